// crictl-style pod sandbox commands: pods, runp, stopp, rmp, inspectp — against any CRI endpoint.
import {
  type PodSandbox,
  PodSandboxSchema,
  PodSandboxState,
  type PodSandboxStatusResponse,
  PodSandboxStatusSchema,
} from '../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument } from '../errors/errors.ts';
import { defineCommand, endpointsFrom } from './command.ts';
import { parseLabels, resolvePodIds, withContext, withCri } from './container-cri.ts';
import { formatDocument, type OutputFormat, parseOutputFormat, protoJson } from './output/documents.ts';
import { createdAgo, truncateId } from './output/human.ts';
import { tabTable } from './output/tabwriter.ts';
import { goTimeString, rfc3339Nano } from './output/times.ts';
import { loadPodSandboxConfig } from './pod-config.ts';
import {
  forEachResolved,
  infoMapLine,
  inspectCommandFor,
  matchesRegex,
  newestFirst,
  sortedMapLines,
  statusJsonWithTimes,
} from './resource-commands.ts';

export function podStateName(state: PodSandboxState): string {
  return state === PodSandboxState.SANDBOX_READY ? 'Ready' : 'NotReady';
}

function runtimeHandlerName(pod: PodSandbox): string {
  return pod.runtimeHandler === '' ? '(default)' : pod.runtimeHandler;
}

/** The `berth pods` table, as crictl 1.26 lays it out. */
export function podsTable(pods: PodSandbox[], options: { noTrunc?: boolean; now?: number } = {}): string {
  const rows = [['POD ID', 'CREATED', 'STATE', 'NAME', 'NAMESPACE', 'ATTEMPT', 'RUNTIME']];
  for (const pod of pods) {
    rows.push([
      options.noTrunc ? pod.id : truncateId(pod.id),
      createdAgo(pod.createdAt, options.now),
      podStateName(pod.state),
      pod.metadata?.name ?? '',
      pod.metadata?.namespace ?? '',
      String(pod.metadata?.attempt ?? 0),
      runtimeHandlerName(pod),
    ]);
  }
  return tabTable(rows);
}

/** `berth pods -v`: one block per pod. */
export function podsVerbose(pods: PodSandbox[]): string {
  let out = '';
  for (const pod of pods) {
    out += `ID: ${pod.id}\n`;
    const m = pod.metadata;
    if (m !== undefined) {
      if (m.name !== '') out += `Name: ${m.name}\n`;
      if (m.uid !== '') out += `UID: ${m.uid}\n`;
      if (m.namespace !== '') out += `Namespace: ${m.namespace}\n`;
      if (m.attempt !== 0) out += `Attempt: ${m.attempt}\n`;
    }
    out += `Status: ${podStateName(pod.state)}\n`;
    out += `Created: ${goTimeString(pod.createdAt)}\n`;
    out += sortedMapLines('Labels', pod.labels);
    out += sortedMapLines('Annotations', pod.annotations);
    out += `Runtime: ${runtimeHandlerName(pod)}\n\n`;
  }
  return out;
}

const podsCommand = defineCommand({
  name: 'pods',
  summary: 'List pods',
  flags: {
    id: { type: 'string', value: 'ID', help: 'only pods whose ID starts with this' },
    name: { type: 'string', value: 'REGEX', help: 'only pods whose name matches' },
    namespace: { type: 'string', value: 'REGEX', help: 'only pods whose namespace matches' },
    state: { type: 'string', short: 's', value: 'STATE', help: 'only pods in this state: ready or notready' },
    label: { type: 'string', multiple: true, value: 'K=V', help: 'only pods with this label' },
    latest: { type: 'boolean', short: 'l', help: 'only the newest pod' },
    last: { type: 'string', short: 'n', value: 'N', help: 'only the N newest pods' },
    quiet: { type: 'boolean', short: 'q', help: 'IDs only' },
    verbose: { type: 'boolean', short: 'v', help: 'one block of details per pod' },
    'no-trunc': { type: 'boolean', help: 'IDs in full' },
    output: { type: 'string', short: 'o', value: 'FORMAT', help: 'table, json or yaml' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length > 0) throw invalidArgument('bad-flag', `pods takes no arguments (got "${positionals.join(' ')}")`);
    const format = parseOutputFormat(values.output, 'table');
    let state: PodSandboxState | undefined;
    if (values.state !== undefined) {
      const s = values.state.toLowerCase();
      if (s === 'ready') state = PodSandboxState.SANDBOX_READY;
      else if (s === 'notready') state = PodSandboxState.SANDBOX_NOTREADY;
      else throw invalidArgument('bad-flag', '--state should be ready or notready');
    }
    const labelSelector = parseLabels(values.label);
    const last = Number(values.last ?? 0);
    if (!Number.isInteger(last)) throw invalidArgument('bad-flag', `--last: expected an integer, got "${values.last}"`);
    const ep = endpointsFrom(globals);
    const items = await withCri(ep, async (cri) => {
      const r = await cri.runtime
        .listPodSandbox({ filter: { state: state === undefined ? undefined : { state }, labelSelector } }, { timeoutMs: ep.timeoutMs })
        .catch((e: unknown) => {
          throw withContext(e, 'listing pod sandboxes');
        });
      return r.items;
    });
    const pods = newestFirst(
      items.filter(
        (p) =>
          (values.id === undefined || p.id.startsWith(values.id)) &&
          matchesRegex(values.name, p.metadata?.name ?? '') &&
          matchesRegex(values.namespace, p.metadata?.namespace ?? ''),
      ),
      values.latest === true,
      last,
    );
    if (format !== 'table') {
      const doc = { items: pods.map((p) => protoJson(PodSandboxSchema, p, format)) };
      process.stdout.write(formatDocument(doc, format));
    } else if (values.quiet) {
      process.stdout.write(pods.map((p) => `${p.id}\n`).join(''));
    } else if (values.verbose) {
      process.stdout.write(podsVerbose(pods));
    } else {
      process.stdout.write(podsTable(pods, { noTrunc: values['no-trunc'] }));
    }
    return 0;
  },
});

const runpCommand = defineCommand({
  name: 'runp',
  summary: 'Run a new pod',
  args: 'POD-CONFIG.(json|yaml)',
  flags: {
    runtime: { type: 'string', value: 'HANDLER', help: 'the runtime handler (RuntimeClass) to run the pod with' },
    'cancel-timeout': { type: 'string', short: 'T', value: 'DURATION', help: 'timeout of the call (instead of --timeout)' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length !== 1) throw invalidArgument('bad-flag', 'runp needs exactly one pod config file');
    const config = await loadPodSandboxConfig(positionals[0]!).catch((e: unknown) => {
      throw withContext(e, 'load podSandboxConfig');
    });
    const ep = endpointsFrom({ ...globals, timeout: values['cancel-timeout'] ?? globals.timeout });
    const r = await withCri(ep, (cri) =>
      cri.runtime.runPodSandbox({ config, runtimeHandler: values.runtime ?? '' }, { timeoutMs: ep.timeoutMs }),
    ).catch((e: unknown) => {
      throw withContext(e, 'run pod sandbox');
    });
    process.stdout.write(`${r.podSandboxId}\n`);
    return 0;
  },
});

const stoppCommand = defineCommand({
  name: 'stopp',
  summary: 'Stop one or more running pods',
  args: 'POD-ID...',
  flags: {},
  async run({ args: positionals, globals }) {
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'stopp needs at least one pod ID');
    const ep = endpointsFrom(globals);
    await withCri(ep, (cri) =>
      forEachResolved(
        positionals,
        (prefixes) => resolvePodIds(cri, prefixes, ep.timeoutMs),
        async (id, name) => {
          await cri.runtime.stopPodSandbox({ podSandboxId: id }, { timeoutMs: ep.timeoutMs }).catch((e: unknown) => {
            throw withContext(e, `stopping the pod sandbox "${name}"`);
          });
          process.stdout.write(`Stopped sandbox ${name}\n`);
        },
      ),
    );
    return 0;
  },
});

const rmpCommand = defineCommand({
  name: 'rmp',
  summary: 'Remove one or more pods',
  args: 'POD-ID...',
  flags: {
    force: { type: 'boolean', short: 'f', help: 'stop running pods first' },
    all: { type: 'boolean', short: 'a', help: 'all pods' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length === 0 && !values.all) throw invalidArgument('bad-flag', 'rmp needs at least one pod ID, or --all');
    const ep = endpointsFrom(globals);
    const opts = { timeoutMs: ep.timeoutMs };
    const errors: string[] = [];
    await withCri(ep, async (cri) => {
      const given = values.all ? (await cri.runtime.listPodSandbox({}, opts)).items.map((p) => p.id) : positionals;
      await forEachResolved(
        given,
        (prefixes) => resolvePodIds(cri, prefixes, ep.timeoutMs),
        async (id, name) => {
          try {
            const status = await cri.runtime.podSandboxStatus({ podSandboxId: id }, opts).catch((e: unknown) => {
              throw withContext(e, `getting sandbox status of pod "${name}"`);
            });
            if (status.status?.state === PodSandboxState.SANDBOX_READY) {
              if (!values.force) throw invalidArgument('pod-running', `pod sandbox "${name}" is running, please stop it first`);
              await cri.runtime.stopPodSandbox({ podSandboxId: id }, opts).catch((e: unknown) => {
                throw withContext(e, `stopping the pod sandbox "${name}" failed`);
              });
              process.stdout.write(`Stopped sandbox ${name}\n`);
            }
            await cri.runtime.removePodSandbox({ podSandboxId: id }, opts).catch((e: unknown) => {
              throw withContext(e, `removing the pod sandbox "${name}"`);
            });
            process.stdout.write(`Removed sandbox ${name}\n`);
          } catch (e) {
            errors.push((e as Error).message);
          }
        },
      );
    });
    if (errors.length === 1) throw invalidArgument('rmp-failed', errors[0]!);
    if (errors.length > 1) throw invalidArgument('rmp-failed', `[${errors.join(', ')}]`);
    return 0;
  },
});

/** `crictl inspectp`'s status: protobuf JSON with createdAt as an RFC 3339 time, nested keys sorted. */
export function podStatusJson(r: PodSandboxStatusResponse, format?: OutputFormat) {
  const status = r.status!;
  return statusJsonWithTimes(protoJson(PodSandboxStatusSchema, status, format), { createdAt: rfc3339Nano(status.createdAt) });
}

/** `inspectp -o table`: the short text form. */
export function podStatusText(r: PodSandboxStatusResponse, verbose: boolean): string {
  const s = r.status!;
  let out = `ID: ${s.id}\n`;
  const m = s.metadata;
  if (m !== undefined) {
    if (m.name !== '') out += `Name: ${m.name}\n`;
    if (m.uid !== '') out += `UID: ${m.uid}\n`;
    if (m.namespace !== '') out += `Namespace: ${m.namespace}\n`;
    out += `Attempt: ${m.attempt}\n`;
  }
  out += `Status: ${PodSandboxState[s.state]}\n`;
  out += `Created: ${goTimeString(s.createdAt)}\n`;
  if (s.network !== undefined) {
    out += `IP Addresses: ${s.network.ip}\n`;
    for (const ip of s.network.additionalIps) out += `Additional IP: ${ip.ip}\n`;
  }
  out += sortedMapLines('Labels', s.labels);
  out += sortedMapLines('Annotations', s.annotations);
  if (verbose) out += infoMapLine(r.info);
  return out;
}

const inspectpCommand = inspectCommandFor({
  name: 'inspectp',
  summary: 'Display the status of one or more pods',
  args: 'POD-ID...',
  noIdsMessage: 'inspectp needs at least one pod ID',
  resolve: resolvePodIds,
  status: (cri, id, verbose, timeoutMs) => cri.runtime.podSandboxStatus({ podSandboxId: id, verbose }, { timeoutMs }),
  failedContext: (name) => `getting the pod sandbox status for "${name}"`,
  noStatusMessage: (name) => `the runtime sent no status for pod sandbox "${name}"`,
  text: podStatusText,
  json: podStatusJson,
});

export const podCommands = [podsCommand, runpCommand, stoppCommand, rmpCommand, inspectpCommand];
