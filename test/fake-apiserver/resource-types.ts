// The resources the fake serves, with the field selectors the API supports for each
// (pkg/registry/*/strategy.go: ToSelectableFields) and what discovery says of them.
import type { ApiObject, Loose } from './api-object.ts';

export interface ResourceType {
  plural: string;
  singular: string;
  kind: string;
  /** '' for the core group. */
  group: string;
  version: string;
  namespaced: boolean;
  shortNames: string[];
  /** Subresources besides the main one, as discovery lists them (pods/status, pods/log, …). */
  subresources: string[];
  /** The field selectors the API supports for the type, with their values. */
  fields(obj: ApiObject): Record<string, string>;
}

export const apiVersionOf = (type: ResourceType) => (type.group === '' ? type.version : `${type.group}/${type.version}`);

/** The path prefix: /api/v1 or /apis/GROUP/VERSION. */
export const prefixOf = (type: ResourceType) => (type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`);

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

function metaFields(obj: ApiObject, namespaced: boolean): Record<string, string> {
  return {
    'metadata.name': obj.metadata.name ?? '',
    ...(namespaced ? { 'metadata.namespace': obj.metadata.namespace ?? '' } : {}),
  };
}

const core = (plural: string, kind: string, namespaced: boolean, rest: Partial<ResourceType> = {}): ResourceType => ({
  plural,
  singular: kind.toLowerCase(),
  kind,
  group: '',
  version: 'v1',
  namespaced,
  shortNames: [],
  subresources: [],
  fields: (o) => metaFields(o, namespaced),
  ...rest,
});

export const TYPES: ResourceType[] = [
  core('pods', 'Pod', true, {
    shortNames: ['po'],
    subresources: ['status', 'binding', 'eviction', 'log', 'exec', 'attach', 'portforward'],
    fields: (o) => {
      const spec = (o.spec ?? {}) as Loose;
      const status = (o.status ?? {}) as Loose;
      return {
        ...metaFields(o, true),
        'spec.nodeName': str(spec.nodeName),
        'spec.restartPolicy': str(spec.restartPolicy),
        'spec.schedulerName': str(spec.schedulerName),
        'spec.serviceAccountName': str(spec.serviceAccountName),
        'spec.hostNetwork': str(spec.hostNetwork ?? false),
        'status.phase': str(status.phase),
        'status.podIP': str(status.podIP),
        'status.nominatedNodeName': str(status.nominatedNodeName),
      };
    },
  }),
  core('nodes', 'Node', false, {
    shortNames: ['no'],
    subresources: ['status'],
    fields: (o) => ({ ...metaFields(o, false), 'spec.unschedulable': str(((o.spec ?? {}) as Loose).unschedulable ?? false) }),
  }),
  core('namespaces', 'Namespace', false, {
    shortNames: ['ns'],
    subresources: ['status'],
    fields: (o) => ({ ...metaFields(o, false), 'status.phase': str(((o.status ?? {}) as Loose).phase) }),
  }),
  core('secrets', 'Secret', true, { fields: (o) => ({ ...metaFields(o, true), type: str(o.type) }) }),
  core('configmaps', 'ConfigMap', true, { shortNames: ['cm'] }),
  core('services', 'Service', true, { shortNames: ['svc'], subresources: ['status'] }),
  core('serviceaccounts', 'ServiceAccount', true, { shortNames: ['sa'], subresources: ['token'] }),
  core('events', 'Event', true, {
    shortNames: ['ev'],
    fields: (o) => {
      const ref = (o.involvedObject ?? {}) as Loose;
      const source = (o.source ?? {}) as Loose;
      return {
        ...metaFields(o, true),
        'involvedObject.kind': str(ref.kind),
        'involvedObject.namespace': str(ref.namespace),
        'involvedObject.name': str(ref.name),
        'involvedObject.uid': str(ref.uid),
        'involvedObject.apiVersion': str(ref.apiVersion),
        'involvedObject.resourceVersion': str(ref.resourceVersion),
        'involvedObject.fieldPath': str(ref.fieldPath),
        reason: str(o.reason),
        reportingComponent: str(o.reportingComponent),
        source: str(source.component),
        type: str(o.type),
      };
    },
  }),
  {
    ...core('leases', 'Lease', true),
    group: 'coordination.k8s.io',
  },
];

/** Statuses that only the status subresource writes (the main resource keeps them). */
export const hasStatus = (type: ResourceType) => type.subresources.includes('status');
