// meta.k8s.io/v1 Table answers (the server-side printing `kubectl get` asks for with
// `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`): the columns the API server prints for
// pods, nodes and namespaces (pkg/printers/internalversion), Name and Created At for the rest.
import type { ApiObject, Loose } from './api-object.ts';
import type { ResourceType } from './resource-types.ts';

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  cell(obj: ApiObject): string | number;
}

/** Go's duration.HumanDuration, as the AGE column shows it. */
function age(timestamp: string | undefined): string {
  if (!timestamp) return '<unknown>';
  const s = Math.floor((Date.now() - Date.parse(timestamp)) / 1000);
  if (s < -1) return '<invalid>';
  if (s < 120) return `${Math.max(s, 0)}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

const name: Column = { name: 'Name', type: 'string', format: 'name', cell: (o) => o.metadata.name ?? '' };
const ageColumn: Column = { name: 'Age', type: 'string', cell: (o) => age(o.metadata.creationTimestamp) };

function podStatus(pod: ApiObject): string {
  const status = (pod.status ?? {}) as Loose;
  let reason: string = status.reason || status.phase || '';
  for (const c of [...((status.containerStatuses ?? []) as Loose[])].reverse()) {
    if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state?.terminated)
      reason =
        c.state.terminated.reason ||
        (c.state.terminated.signal ? `Signal:${c.state.terminated.signal}` : `ExitCode:${c.state.terminated.exitCode}`);
  }
  if (pod.metadata.deletionTimestamp) reason = status.reason === 'NodeLost' ? 'Unknown' : 'Terminating';
  return reason;
}

const COLUMNS: Record<string, Column[]> = {
  Pod: [
    name,
    {
      name: 'Ready',
      type: 'string',
      cell: (o) => {
        const statuses = ((o.status as Loose)?.containerStatuses ?? []) as Loose[];
        return `${statuses.filter((c) => c.ready).length}/${((o.spec as Loose)?.containers ?? []).length}`;
      },
    },
    { name: 'Status', type: 'string', cell: podStatus },
    {
      name: 'Restarts',
      type: 'string',
      cell: (o) => String((((o.status as Loose)?.containerStatuses ?? []) as Loose[]).reduce((n, c) => n + (c.restartCount ?? 0), 0)),
    },
    ageColumn,
    { name: 'IP', type: 'string', priority: 1, cell: (o) => (o.status as Loose)?.podIP || '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => (o.spec as Loose)?.nodeName || '<none>' },
  ],
  Node: [
    name,
    {
      name: 'Status',
      type: 'string',
      cell: (o) => {
        const ready = (((o.status as Loose)?.conditions ?? []) as Loose[]).find((c) => c.type === 'Ready');
        const text =
          ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : ready.status === 'False' ? 'NotReady' : 'Unknown';
        return (o.spec as Loose)?.unschedulable ? `${text},SchedulingDisabled` : text;
      },
    },
    {
      name: 'Roles',
      type: 'string',
      cell: (o) =>
        Object.keys(o.metadata.labels ?? {})
          .filter((l) => l.startsWith('node-role.kubernetes.io/'))
          .map((l) => l.slice('node-role.kubernetes.io/'.length))
          .join(',') || '<none>',
    },
    ageColumn,
    { name: 'Version', type: 'string', cell: (o) => (o.status as Loose)?.nodeInfo?.kubeletVersion ?? '' },
    {
      name: 'Internal-IP',
      type: 'string',
      priority: 1,
      cell: (o) => (((o.status as Loose)?.addresses ?? []) as Loose[]).find((a) => a.type === 'InternalIP')?.address ?? '<none>',
    },
    { name: 'Container-Runtime', type: 'string', priority: 1, cell: (o) => (o.status as Loose)?.nodeInfo?.containerRuntimeVersion ?? '' },
  ],
  Namespace: [name, { name: 'Status', type: 'string', cell: (o) => (o.status as Loose)?.phase ?? '' }, ageColumn],
};

const DEFAULT: Column[] = [name, { name: 'Created At', type: 'date', cell: (o) => o.metadata.creationTimestamp ?? '' }];

/** Whether the Accept header asks for a Table. */
export const wantsTable = (accept: string | undefined) => /as=Table/.test(accept ?? '') && /g=meta\.k8s\.io/.test(accept ?? '');

export function table(type: ResourceType, objects: ApiObject[], resourceVersion: string): unknown {
  const columns = COLUMNS[type.kind] ?? DEFAULT;
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? '',
      description: '',
      priority: c.priority ?? 0,
    })),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
