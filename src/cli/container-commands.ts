// crictl-style container commands against any CRI endpoint: ps, create, start, stop, rm, inspect,
// logs, exec -s, stats, update.

import type { CriClient } from '../cri/cri-client.ts';
import {
  type AuthConfig,
  type Container,
  ContainerSchema,
  ContainerState,
  ContainerStatsSchema,
  type ContainerStatusResponse,
  ContainerStatusSchema,
} from '../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument, isBerthError } from '../errors/errors.ts';
import { type Command, defineCommand, endpointsFrom } from './command.ts';
import { intFlag, parseLabels, resolveContainerIds, resolvePodIds, resolvePrefix, withContext, withCri } from './container-cri.ts';
import { parseSince, previousLogPath, readLogs } from './container-log.ts';
import { byId, statsTable } from './container-stats.ts';
import { podExecCommand, podLogsCommand } from './kube-commands.ts';
import { formatDocument, type OutputFormat, parseOutputFormat, protoJson } from './output/documents.ts';
import { createdAgo, truncateId } from './output/human.ts';
import { tabTable } from './output/tabwriter.ts';
import { rfc3339Nano, ZERO_TIME } from './output/times.ts';
import { loadContainerConfig, loadPodSandboxConfig } from './pod-config.ts';
import {
  forEachResolved,
  infoMapLine,
  inspectCommandFor,
  matchesRegex,
  newestFirst,
  sortedMapLines,
  statusJsonWithTimes,
} from './resource-commands.ts';
import { streamingExec } from './stream-commands.ts';

const POD_NAME_LABEL = 'io.kubernetes.pod.name';

export function containerStateName(state: ContainerState): string {
  switch (state) {
    case ContainerState.CONTAINER_CREATED:
      return 'Created';
    case ContainerState.CONTAINER_RUNNING:
      return 'Running';
    case ContainerState.CONTAINER_EXITED:
      return 'Exited';
    default:
      return 'Unknown';
  }
}

/** An image ID ("sha256:<hex>") shows as its first 13 hex digits; a name stays as it is. */
export function displayImage(image: string, noTrunc: boolean): string {
  if (noTrunc) return image;
  const m = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:([a-fA-F0-9]{32,})$/.exec(image);
  return m ? truncateId(m[1]!) : image;
}

/** The `berth ps` table, as crictl lays it out: POD from the kubelet's pod-name label, else the pod's own name. */
export function containersTable(
  containers: Container[],
  options: { noTrunc?: boolean; now?: number; imageName?: (c: Container) => string; podNames?: ReadonlyMap<string, string> } = {},
): string {
  const rows = [['CONTAINER', 'IMAGE', 'CREATED', 'STATE', 'NAME', 'ATTEMPT', 'POD ID', 'POD']];
  const noTrunc = options.noTrunc === true;
  for (const c of containers) {
    rows.push([
      noTrunc ? c.id : truncateId(c.id),
      options.imageName?.(c) ?? displayImage(c.image?.image ?? '', noTrunc),
      createdAgo(c.createdAt, options.now),
      containerStateName(c.state),
      c.metadata?.name ?? '',
      String(c.metadata?.attempt ?? 0),
      noTrunc ? c.podSandboxId : truncateId(c.podSandboxId),
      c.labels[POD_NAME_LABEL] ?? options.podNames?.get(c.podSandboxId) ?? 'unknown',
    ]);
  }
  return tabTable(rows);
}

/** `berth ps -v`: one block per container. */
export function containersVerbose(containers: Container[], now = Date.now()): string {
  let out = '';
  for (const c of containers) {
    out += `ID: ${c.id}\nPodID: ${c.podSandboxId}\n`;
    if (c.metadata !== undefined) {
      if (c.metadata.name !== '') out += `Name: ${c.metadata.name}\n`;
      out += `Attempt: ${c.metadata.attempt}\n`;
    }
    out += `State: ${containerStateName(c.state)}\n`;
    if (c.image !== undefined) out += `Image: ${c.image.image}\n`;
    out += `Created: ${createdAgo(c.createdAt, now)}\n`;
    out += sortedMapLines('Labels', c.labels);
    out += sortedMapLines('Annotations', c.annotations);
    out += '\n';
  }
  return out;
}

function parseContainerState(value: string): ContainerState {
  switch (value.toLowerCase()) {
    case 'created':
      return ContainerState.CONTAINER_CREATED;
    case 'running':
      return ContainerState.CONTAINER_RUNNING;
    case 'exited':
      return ContainerState.CONTAINER_EXITED;
    case 'unknown':
      return ContainerState.CONTAINER_UNKNOWN;
    default:
      throw invalidArgument('bad-flag', '--state should be one of created, running, exited or unknown');
  }
}

/** Image IDs by reference, asked once each (for --image and --resolve-image-path). */
function imageLookup(cri: CriClient, timeoutMs: number) {
  const cache = new Map<string, Promise<{ id: string; repoTags: string[] } | undefined>>();
  return (ref: string) => {
    let p = cache.get(ref);
    if (p === undefined) {
      p = cri.image.imageStatus({ image: { image: ref } }, { timeoutMs }).then((r) => r.image);
      cache.set(ref, p);
    }
    return p;
  };
}

const psCommand = defineCommand({
  name: 'ps',
  summary: 'List containers',
  flags: {
    all: { type: 'boolean', short: 'a', help: 'all containers (default: running ones)' },
    id: { type: 'string', value: 'ID', help: 'only containers whose ID starts with this' },
    pod: { type: 'string', short: 'p', value: 'POD-ID', help: 'only containers of pods whose ID starts with this' },
    name: { type: 'string', value: 'REGEX', help: 'only containers whose name matches' },
    image: { type: 'string', value: 'IMAGE', help: 'only containers of this image' },
    state: { type: 'string', short: 's', value: 'STATE', help: 'only containers in this state: created, running, exited or unknown' },
    label: { type: 'string', multiple: true, value: 'K=V', help: 'only containers with this label' },
    latest: { type: 'boolean', short: 'l', help: 'only the newest container' },
    last: { type: 'string', short: 'n', value: 'N', help: 'only the N newest containers' },
    quiet: { type: 'boolean', short: 'q', help: 'IDs only' },
    verbose: { type: 'boolean', short: 'v', help: 'one block of details per container' },
    'no-trunc': { type: 'boolean', help: 'IDs in full' },
    'resolve-image-path': { type: 'boolean', help: 'image names instead of the references the containers were created with' },
    output: { type: 'string', short: 'o', value: 'FORMAT', help: 'table, json or yaml' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length > 0) throw invalidArgument('bad-flag', `ps takes no arguments (got "${positionals.join(' ')}")`);
    const format = parseOutputFormat(values.output, 'table');
    const last = intFlag(values.last, 'last', 0);
    let state: ContainerState | undefined;
    if (values.state !== undefined) state = parseContainerState(values.state);
    else if (!values.all) state = ContainerState.CONTAINER_RUNNING;
    if (values.latest || last > 0) state = undefined;
    const labelSelector = parseLabels(values.label);
    const ep = endpointsFrom(globals);
    const noTrunc = values['no-trunc'] === true;
    await withCri(ep, async (cri) => {
      const opts = { timeoutMs: ep.timeoutMs };
      const listed = await cri.runtime
        .listContainers({ filter: { state: state === undefined ? undefined : { state }, labelSelector } }, opts)
        .catch((e: unknown) => {
          throw withContext(e, 'listing containers');
        });
      let containers = newestFirst(
        listed.containers.filter(
          (c) =>
            (values.id === undefined || c.id.startsWith(values.id)) &&
            (values.pod === undefined || c.podSandboxId.startsWith(values.pod)) &&
            matchesRegex(values.name, c.metadata?.name ?? ''),
        ),
        values.latest === true,
        last,
      );
      const lookup = imageLookup(cri, ep.timeoutMs);
      if (values.image !== undefined) {
        const wanted = (await lookup(values.image))?.id;
        const keep: Container[] = [];
        for (const c of containers) {
          const id = (await lookup(c.image?.image ?? ''))?.id;
          if (wanted !== undefined && id === wanted) keep.push(c);
        }
        containers = keep;
      }
      if (format !== 'table') {
        process.stdout.write(formatDocument({ containers: containers.map((c) => protoJson(ContainerSchema, c, format)) }, format));
      } else if (values.quiet) {
        process.stdout.write(containers.map((c) => `${c.id}\n`).join(''));
      } else if (values.verbose) {
        process.stdout.write(containersVerbose(containers));
      } else {
        const names = new Map<string, string>();
        if (values['resolve-image-path']) {
          for (const c of containers) {
            const ref = c.image?.image ?? '';
            names.set(c.id, (await lookup(ref))?.repoTags[0] ?? ref);
          }
        }
        const podNames = new Map<string, string>();
        if (containers.some((c) => c.labels[POD_NAME_LABEL] === undefined)) {
          for (const p of (await cri.runtime.listPodSandbox({}, opts)).items) podNames.set(p.id, p.metadata?.name ?? '');
        }
        const imageName = names.size > 0 ? (c: Container) => names.get(c.id)! : undefined;
        process.stdout.write(containersTable(containers, { noTrunc, imageName, podNames }));
      }
    });
    return 0;
  },
});

function authFrom(values: { creds?: string; auth?: string }): AuthConfig | undefined {
  if (values.auth !== undefined) return { auth: values.auth } as AuthConfig;
  if (values.creds !== undefined) {
    const i = values.creds.indexOf(':');
    return { username: i < 0 ? values.creds : values.creds.slice(0, i), password: i < 0 ? '' : values.creds.slice(i + 1) } as AuthConfig;
  }
  return undefined;
}

const createCommand = defineCommand({
  name: 'create',
  summary: 'Create a new container (pulling its image first when it is missing)',
  args: 'POD-ID CONTAINER-CONFIG POD-CONFIG',
  flags: {
    'no-pull': { type: 'boolean', help: 'do not pull the image' },
    'with-pull': { type: 'boolean', help: 'pull the image even when it is there' },
    creds: { type: 'string', value: 'USER[:PASSWORD]', help: 'registry credentials for the pull' },
    auth: { type: 'string', value: 'BASE64', help: 'registry auth string for the pull' },
    'cancel-timeout': { type: 'string', short: 'T', value: 'DURATION', help: 'timeout of the calls (instead of --timeout)' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length !== 3) throw invalidArgument('bad-flag', 'create needs POD-ID CONTAINER-CONFIG POD-CONFIG');
    if (values['no-pull'] && values['with-pull']) throw invalidArgument('bad-flag', 'conflict: --no-pull and --with-pull are both set');
    const [podArg, containerConfigPath, podConfigPath] = positionals as [string, string, string];
    const config = await loadContainerConfig(containerConfigPath).catch((e: unknown) => {
      throw withContext(e, 'creating container');
    });
    const sandboxConfig = await loadPodSandboxConfig(podConfigPath).catch((e: unknown) => {
      throw withContext(e, 'creating container');
    });
    const ep = endpointsFrom({ ...globals, timeout: values['cancel-timeout'] ?? globals.timeout });
    const opts = { timeoutMs: ep.timeoutMs };
    const id = await withCri(ep, async (cri) => {
      const [podSandboxId] = await resolvePodIds(cri, [podArg], ep.timeoutMs);
      const image = config.image?.image ?? '';
      let pull = values['with-pull'] === true;
      if (!pull && !values['no-pull'] && image !== '') {
        const status = await cri.image.imageStatus({ image: { image } }, opts).catch((e: unknown) => {
          throw withContext(e, 'creating container');
        });
        pull = status.image === undefined;
      }
      if (pull) {
        await cri.image
          .pullImage({ image: { image, annotations: config.image?.annotations ?? {} }, auth: authFrom(values), sandboxConfig }, opts)
          .catch((e: unknown) => {
            throw withContext(e, `creating container: pulling image "${image}"`);
          });
      }
      const r = await cri.runtime.createContainer({ podSandboxId, config, sandboxConfig }, opts).catch((e: unknown) => {
        throw withContext(e, 'creating container');
      });
      return r.containerId;
    });
    process.stdout.write(`${id}\n`);
    return 0;
  },
});

const startCommand = defineCommand({
  name: 'start',
  summary: 'Start one or more created containers',
  args: 'CONTAINER-ID...',
  flags: {},
  async run({ args: positionals, globals }) {
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'ID cannot be empty');
    const ep = endpointsFrom(globals);
    await withCri(ep, (cri) =>
      forEachResolved(
        positionals,
        (prefixes) => resolveContainerIds(cri, prefixes, ep.timeoutMs),
        async (id, name) => {
          await cri.runtime.startContainer({ containerId: id }, { timeoutMs: ep.timeoutMs }).catch((e: unknown) => {
            throw withContext(e, `starting the container "${name}"`);
          });
          process.stdout.write(`${name}\n`);
        },
      ),
    );
    return 0;
  },
});

const stopCommand = defineCommand({
  name: 'stop',
  summary: 'Stop one or more running containers',
  args: 'CONTAINER-ID...',
  flags: { timeout: { type: 'string', short: 't', value: 'SECONDS', help: 'grace period before the container is killed' } },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'ID cannot be empty');
    const grace = intFlag(values.timeout, 'timeout', 0);
    const ep = endpointsFrom(globals);
    await withCri(ep, (cri) =>
      forEachResolved(
        positionals,
        (prefixes) => resolveContainerIds(cri, prefixes, ep.timeoutMs),
        async (id, name) => {
          await cri.runtime
            .stopContainer({ containerId: id, timeout: BigInt(grace) }, { timeoutMs: ep.timeoutMs + Math.max(0, grace) * 1000 })
            .catch((e: unknown) => {
              throw withContext(e, `stopping the container "${name}"`);
            });
          process.stdout.write(`${name}\n`);
        },
      ),
    );
    return 0;
  },
});

const rmCommand = defineCommand({
  name: 'rm',
  summary: 'Remove one or more containers',
  args: 'CONTAINER-ID...',
  flags: {
    force: { type: 'boolean', short: 'f', help: 'stop running containers first' },
    all: { type: 'boolean', short: 'a', help: 'all containers' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length === 0 && !values.all) throw invalidArgument('bad-flag', 'rm needs at least one container ID, or --all');
    const ep = endpointsFrom(globals);
    const opts = { timeoutMs: ep.timeoutMs };
    let failed = false;
    await withCri(ep, async (cri) => {
      const given = values.all ? (await cri.runtime.listContainers({}, opts)).containers.map((c) => c.id) : positionals;
      await forEachResolved(
        given,
        (prefixes) => resolveContainerIds(cri, prefixes, ep.timeoutMs),
        async (id, name) => {
          try {
            const status = await cri.runtime.containerStatus({ containerId: id }, opts);
            if (status.status?.state === ContainerState.CONTAINER_RUNNING) {
              if (!values.force) throw invalidArgument('container-running', `container "${name}" is running, please stop it first`);
              await cri.runtime.stopContainer({ containerId: id, timeout: 0n }, opts).catch((e: unknown) => {
                throw withContext(e, `stopping the container "${name}" failed`);
              });
              process.stdout.write(`${name}\n`);
            }
            await cri.runtime.removeContainer({ containerId: id }, opts).catch((e: unknown) => {
              throw withContext(e, `removing container "${name}" failed`);
            });
            process.stdout.write(`${name}\n`);
          } catch (e) {
            failed = true;
            process.stderr.write(`berth rm: ${(e as Error).message}\n`);
          }
        },
      );
    });
    if (failed) throw invalidArgument('rm-failed', 'unable to remove container(s)');
    return 0;
  },
});

/** `crictl inspect`'s status: protobuf JSON with its times in RFC 3339 (Go's zero time when not yet), nested keys sorted. */
export function containerStatusJson(r: ContainerStatusResponse, format?: OutputFormat) {
  const s = r.status!;
  const started = s.state !== ContainerState.CONTAINER_CREATED;
  const finished = s.state === ContainerState.CONTAINER_EXITED || (s.state === ContainerState.CONTAINER_UNKNOWN && s.finishedAt > 0n);
  return statusJsonWithTimes(protoJson(ContainerStatusSchema, s, format), {
    createdAt: rfc3339Nano(s.createdAt),
    startedAt: started ? rfc3339Nano(s.startedAt) : ZERO_TIME,
    finishedAt: finished ? rfc3339Nano(s.finishedAt) : ZERO_TIME,
  });
}

/** `inspect -o table`: the short text form. */
export function containerStatusText(r: ContainerStatusResponse, verbose: boolean, now = Date.now()): string {
  const s = r.status!;
  let out = `ID: ${s.id}\n`;
  if (s.metadata !== undefined) {
    if (s.metadata.name !== '') out += `Name: ${s.metadata.name}\n`;
    if (s.metadata.attempt !== 0) out += `Attempt: ${s.metadata.attempt}\n`;
  }
  out += `State: ${ContainerState[s.state]}\n`;
  out += `Created: ${createdAgo(s.createdAt, now)}\n`;
  if (s.state !== ContainerState.CONTAINER_CREATED) out += `Started: ${createdAgo(s.startedAt, now)}\n`;
  if (s.state === ContainerState.CONTAINER_EXITED) {
    if (s.finishedAt > 0n) out += `Finished: ${createdAgo(s.finishedAt, now)}\n`;
    out += `Exit Code: ${s.exitCode}\n`;
  }
  out += sortedMapLines('Labels', s.labels);
  out += sortedMapLines('Annotations', s.annotations);
  if (verbose) out += infoMapLine(r.info);
  return out;
}

const inspectCommand = inspectCommandFor({
  name: 'inspect',
  summary: 'Display the status of one or more containers',
  args: 'CONTAINER-ID...',
  noIdsMessage: 'ID cannot be empty',
  resolve: resolveContainerIds,
  status: (cri, id, verbose, timeoutMs) => cri.runtime.containerStatus({ containerId: id, verbose }, { timeoutMs }),
  failedContext: (name) => `getting the status of the container "${name}"`,
  noStatusMessage: (name) => `the runtime sent no status for container "${name}"`,
  text: (r, verbose) => containerStatusText(r, verbose),
  json: containerStatusJson,
});

const logsCommand = defineCommand({
  name: 'logs',
  summary: 'Fetch the logs of a container',
  args: 'CONTAINER-ID',
  flags: {
    follow: { type: 'boolean', short: 'f', help: 'follow the log until the container stops' },
    previous: { type: 'boolean', short: 'p', help: 'the log of the previous attempt' },
    tail: { type: 'string', value: 'N', help: 'only the last N lines' },
    'limit-bytes': { type: 'string', value: 'N', help: 'at most N bytes' },
    since: { type: 'string', value: 'TIME', help: 'only lines since: a duration before now (42m), an RFC 3339 time or Unix seconds' },
    timestamps: { type: 'boolean', short: 't', help: 'each line with its timestamp' },
  },
  podForm: podLogsCommand,
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'ID cannot be empty');
    if (positionals.length > 1) throw invalidArgument('bad-flag', 'logs takes one container ID');
    const tail = intFlag(values.tail, 'tail', -1);
    const limitBytes = intFlag(values['limit-bytes'], 'limit-bytes', -1);
    const sinceNanos = values.since === undefined || values.since === '' ? undefined : parseSince(values.since);
    const ep = endpointsFrom(globals);
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    const onStdoutError = (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') abort.abort();
    };
    process.once('SIGINT', onSigint);
    process.stdout.on('error', onStdoutError);
    try {
      await withCri(ep, async (cri) => {
        const [id] = await resolveContainerIds(cri, positionals, ep.timeoutMs);
        const status = (await cri.runtime.containerStatus({ containerId: id }, { timeoutMs: ep.timeoutMs })).status;
        let logPath = status?.logPath ?? '';
        if (logPath === '') throw invalidArgument('no-log-path', 'The container has not set log path');
        if (values.previous) {
          const attempt = status?.metadata?.attempt ?? 0;
          if (attempt === 0)
            throw invalidArgument('no-previous', `Previous terminated container ${status?.metadata?.name ?? ''} not found`);
          logPath = previousLogPath(logPath, attempt);
        }
        const isRunning = async () => {
          if (values.previous) return false;
          const s = await cri.runtime.containerStatus({ containerId: id }, { timeoutMs: ep.timeoutMs });
          return s.status?.state === ContainerState.CONTAINER_RUNNING;
        };
        await readLogs(
          logPath,
          { stdout: process.stdout, stderr: process.stderr },
          {
            tail,
            limitBytes,
            sinceNanos,
            timestamps: values.timestamps,
            follow: values.follow ? { isRunning } : undefined,
            signal: abort.signal,
          },
        ).catch((e: unknown) => {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT')
            throw invalidArgument('no-log-file', `failed to open log file "${logPath}": no such file`);
          throw e;
        });
      });
    } finally {
      process.off('SIGINT', onSigint);
      process.stdout.off('error', onStdoutError);
    }
    return 0;
  },
});

const execCommand = defineCommand({
  name: 'exec',
  summary: 'Run a command in a running container (-i: with stdin, -t: on a terminal; -s: synchronously, collecting its output)',
  args: 'CONTAINER-ID COMMAND [ARG...]',
  flags: {
    sync: { type: 'boolean', short: 's', help: 'run synchronously and print what the command wrote' },
    timeout: { type: 'string', value: 'SECONDS', help: 'with -s: stop the command after this long' },
    interactive: { type: 'boolean', short: 'i', help: 'pass stdin to the command' },
    tty: { type: 'boolean', short: 't', help: 'on a terminal' },
  },
  flagsEndAtFirstArg: true,
  podForm: podExecCommand,
  async run({ flags: values, args, globals }) {
    const [container, ...cmd] = args;
    if (container === undefined || cmd.length === 0) throw invalidArgument('bad-flag', 'exec needs CONTAINER-ID COMMAND [ARG...]');
    const ep = endpointsFrom(globals);
    if (!values.sync) return streamingExec(ep, container, cmd, { stdin: values.interactive === true, tty: values.tty === true });
    const seconds = intFlag(values.timeout, 'timeout', 0);
    const r = await withCri(ep, async (cri) => {
      const [id] = await resolveContainerIds(cri, [container], ep.timeoutMs);
      return cri.runtime
        .execSync(
          { containerId: id, cmd, timeout: BigInt(seconds) },
          { timeoutMs: seconds > 0 ? seconds * 1000 + ep.timeoutMs : undefined },
        )
        .catch((e: unknown) => {
          if (isBerthError(e, 'deadline-exceeded'))
            throw withContext(e, `execing command in container synchronously: command "${cmd.join(' ')}" timed out`);
          throw withContext(e, 'execing command in container synchronously');
        });
    });
    await new Promise<void>((resolve) => process.stdout.write(r.stdout, () => resolve()));
    await new Promise<void>((resolve) => process.stderr.write(r.stderr, () => resolve()));
    return r.exitCode;
  },
});

const statsCommand = defineCommand({
  name: 'stats',
  summary: 'List container resource usage statistics',
  args: '[CONTAINER-ID]',
  flags: {
    all: { type: 'boolean', short: 'a', help: 'all containers (default: running ones)' },
    id: { type: 'string', value: 'ID', help: 'only the container of this ID' },
    pod: { type: 'string', short: 'p', value: 'POD-ID', help: 'only the containers of this pod' },
    label: { type: 'string', multiple: true, value: 'K=V', help: 'only containers with this label' },
    seconds: { type: 'string', short: 's', value: 'N', help: 'seconds between the two samples (default 1)' },
    watch: { type: 'boolean', short: 'w', help: 'sample again and again' },
    output: { type: 'string', short: 'o', value: 'FORMAT', help: 'table, json or yaml' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length > 1) throw invalidArgument('bad-flag', 'stats takes at most one container ID');
    const format = parseOutputFormat(values.output, 'table');
    const seconds = intFlag(values.seconds, 'seconds', 1);
    const labelSelector = parseLabels(values.label);
    const idArg = values.id ?? positionals[0];
    const ep = endpointsFrom(globals);
    const opts = { timeoutMs: ep.timeoutMs };
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      await withCri(ep, async (cri) => {
        const id =
          idArg === undefined
            ? ''
            : resolvePrefix(
                idArg,
                (await cri.runtime.listContainers({}, opts)).containers.map((c) => c.id),
                'container',
              );
        const podSandboxId = values.pod === undefined ? '' : (await resolvePodIds(cri, [values.pod], ep.timeoutMs))[0]!;
        const sample = async () =>
          (
            await cri.runtime.listContainerStats({ filter: { id, podSandboxId, labelSelector } }, opts).catch((e: unknown) => {
              throw withContext(e, 'get container stats');
            })
          ).stats;
        if (format !== 'table') {
          process.stdout.write(
            formatDocument({ stats: byId(await sample()).map((s) => protoJson(ContainerStatsSchema, s, format)) }, format),
          );
          return;
        }
        do {
          const first = await sample();
          await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
          if (abort.signal.aborted) break;
          const table = statsTable(first, await sample(), { all: values.all });
          process.stdout.write(values.watch ? `\x1b[2J\x1b[H${table}` : table);
        } while (values.watch && !abort.signal.aborted);
      });
    } finally {
      process.off('SIGINT', onSigint);
    }
    return 0;
  },
});

const updateCommand = defineCommand({
  name: 'update',
  summary: 'Update the resources of one or more running containers',
  args: 'CONTAINER-ID...',
  flags: {
    'cpu-share': { type: 'string', value: 'N', help: 'CPU shares (relative weight)' },
    'cpu-quota': { type: 'string', value: 'N', help: 'CPU CFS quota' },
    'cpu-period': { type: 'string', value: 'N', help: 'CPU CFS period' },
    'cpuset-cpus': { type: 'string', value: 'LIST', help: 'CPUs the container may use (0-3, 0,1)' },
    'cpuset-mems': { type: 'string', value: 'LIST', help: 'memory nodes the container may use' },
    memory: { type: 'string', value: 'BYTES', help: 'memory limit' },
    'cpu-count': { type: 'string', value: 'N', help: 'Windows containers only' },
    'cpu-maximum': { type: 'string', value: 'N', help: 'Windows containers only' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'ID cannot be empty');
    if (values['cpu-count'] !== undefined || values['cpu-maximum'] !== undefined) {
      throw invalidArgument('bad-flag', '--cpu-count and --cpu-maximum apply to Windows containers only');
    }
    const linux = {
      cpuPeriod: BigInt(intFlag(values['cpu-period'], 'cpu-period', 0)),
      cpuQuota: BigInt(intFlag(values['cpu-quota'], 'cpu-quota', 0)),
      cpuShares: BigInt(intFlag(values['cpu-share'], 'cpu-share', 0)),
      memoryLimitInBytes: BigInt(intFlag(values.memory, 'memory', 0)),
      cpusetCpus: values['cpuset-cpus'] ?? '',
      cpusetMems: values['cpuset-mems'] ?? '',
    };
    const ep = endpointsFrom(globals);
    await withCri(ep, (cri) =>
      forEachResolved(
        positionals,
        (prefixes) => resolveContainerIds(cri, prefixes, ep.timeoutMs),
        async (id, name) => {
          await cri.runtime.updateContainerResources({ containerId: id, linux }, { timeoutMs: ep.timeoutMs }).catch((e: unknown) => {
            throw withContext(e, `updating container resources for "${name}"`);
          });
          process.stdout.write(`${name}\n`);
        },
      ),
    );
    return 0;
  },
});

export const containerCommands: Command[] = [
  psCommand,
  createCommand,
  startCommand,
  stopCommand,
  rmCommand,
  inspectCommand,
  logsCommand,
  execCommand,
  statsCommand,
  updateCommand,
];
