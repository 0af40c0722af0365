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
import { type Command, endpointsFrom, parseCommandArgs } from './command.ts';
import {
  endpointsFromGlobals,
  intFlag,
  parseLabels,
  parseOwnArgs,
  resolveContainerIds,
  resolvePodIds,
  resolvePrefix,
  splitLeadingGlobals,
  withContext,
  withCri,
} from './container-cri.ts';
import { parseSince, previousLogPath, readLogs } from './container-log.ts';
import {
  createdAgo,
  formatDocument,
  parseListFormat,
  protoJson,
  rfc3339Nano,
  tabTable,
  truncateId,
  ZERO_TIME,
} from './container-output.ts';
import { byId, statsTable } from './container-stats.ts';
import { podLogsCommand } from './kube-commands.ts';
import { loadContainerConfig, loadPodSandboxConfig } from './pod-config.ts';
import { namesPod, podExecCommand } from './pod-stream-commands.ts';
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

/** The `berth ps` table, as crictl 1.26 lays it out (POD from the kubelet's pod-name label). */
export function containersTable(
  containers: Container[],
  options: { noTrunc?: boolean; now?: number; imageName?: (c: Container) => string } = {},
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
      c.labels[POD_NAME_LABEL] ?? 'unknown',
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

const psCommand: Command = {
  name: 'ps',
  summary: 'List containers',
  usage:
    'ps [-a] [--id ID] [-p POD-ID] [--name REGEX] [--image IMAGE] [-s STATE] [--label K=V]... [-l] [-n N] [-q] [-v] [--no-trunc] [--resolve-image-path] [-o table|json|yaml]',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      verbose: { type: 'boolean', short: 'v' },
      id: { type: 'string' },
      name: { type: 'string' },
      pod: { type: 'string', short: 'p' },
      image: { type: 'string' },
      state: { type: 'string', short: 's' },
      label: { type: 'string', multiple: true },
      quiet: { type: 'boolean', short: 'q' },
      output: { type: 'string', short: 'o' },
      all: { type: 'boolean', short: 'a' },
      latest: { type: 'boolean', short: 'l' },
      last: { type: 'string', short: 'n' },
      'no-trunc': { type: 'boolean' },
      'resolve-image-path': { type: 'boolean' },
    });
    if (positionals.length > 0) throw invalidArgument('bad-flag', `ps takes no arguments (got "${positionals.join(' ')}")`);
    const format = parseListFormat(values.output, 'table');
    const last = intFlag(values.last, 'last', 0);
    let state: ContainerState | undefined;
    if (values.state !== undefined) state = parseContainerState(values.state);
    else if (!values.all) state = ContainerState.CONTAINER_RUNNING;
    if (values.latest || last > 0) state = undefined;
    const labelSelector = parseLabels(values.label);
    const ep = endpointsFrom(values);
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
        process.stdout.write(formatDocument({ containers: containers.map((c) => protoJson(ContainerSchema, c)) }, format));
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
        process.stdout.write(containersTable(containers, { noTrunc, imageName: names.size > 0 ? (c) => names.get(c.id)! : undefined }));
      }
    });
    return 0;
  },
};

function authFrom(values: { creds?: string; auth?: string }): AuthConfig | undefined {
  if (values.auth !== undefined) return { auth: values.auth } as AuthConfig;
  if (values.creds !== undefined) {
    const i = values.creds.indexOf(':');
    return { username: i < 0 ? values.creds : values.creds.slice(0, i), password: i < 0 ? '' : values.creds.slice(i + 1) } as AuthConfig;
  }
  return undefined;
}

const createCommand: Command = {
  name: 'create',
  summary: 'Create a new container (pulling its image first when it is missing)',
  usage: 'create [--no-pull|--with-pull] [--creds USER[:PASSWORD]] [--auth BASE64] POD-ID CONTAINER-CONFIG POD-CONFIG',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      'no-pull': { type: 'boolean' },
      'with-pull': { type: 'boolean' },
      creds: { type: 'string' },
      auth: { type: 'string' },
      'cancel-timeout': { type: 'string', short: 'T' },
    });
    if (positionals.length !== 3) throw invalidArgument('bad-flag', 'create needs POD-ID CONTAINER-CONFIG POD-CONFIG');
    if (values['no-pull'] && values['with-pull']) throw invalidArgument('bad-flag', 'conflict: --no-pull and --with-pull are both set');
    const [podArg, containerConfigPath, podConfigPath] = positionals as [string, string, string];
    const config = await loadContainerConfig(containerConfigPath).catch((e: unknown) => {
      throw withContext(e, 'creating container');
    });
    const sandboxConfig = await loadPodSandboxConfig(podConfigPath).catch((e: unknown) => {
      throw withContext(e, 'creating container');
    });
    const ep = endpointsFrom({ ...values, timeout: values['cancel-timeout'] ?? values.timeout });
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
};

const startCommand: Command = {
  name: 'start',
  summary: 'Start one or more created containers',
  usage: 'start CONTAINER-ID...',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {});
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'ID cannot be empty');
    const ep = endpointsFrom(values);
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
};

/** Global flags that stay usable after a command whose own short flags take -t or -i. */
const LONG_GLOBALS = {
  'runtime-endpoint': { type: 'string', short: 'r' },
  'image-endpoint': { type: 'string' },
  debug: { type: 'boolean', short: 'D' },
  help: { type: 'boolean', short: 'h' },
} as const;

const stopCommand: Command = {
  name: 'stop',
  summary: 'Stop one or more running containers',
  usage: 'stop [-t SECONDS] CONTAINER-ID...',
  async run(argv) {
    const { globals, own } = splitLeadingGlobals(argv, ['stop']);
    const { values, positionals } = parseOwnArgs(own, { ...LONG_GLOBALS, timeout: { type: 'string', short: 't' } });
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'ID cannot be empty');
    const grace = intFlag(values.timeout, 'timeout', 0);
    const ep = endpointsFromGlobals(globals, values);
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
};

const rmCommand: Command = {
  name: 'rm',
  summary: 'Remove one or more containers',
  usage: 'rm [-f] [-a] CONTAINER-ID...',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      force: { type: 'boolean', short: 'f' },
      all: { type: 'boolean', short: 'a' },
    });
    if (positionals.length === 0 && !values.all) throw invalidArgument('bad-flag', 'rm needs at least one container ID, or --all');
    const ep = endpointsFrom(values);
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
};

/** `crictl inspect`'s status: protobuf JSON with its times in RFC 3339 (Go's zero time when not yet), nested keys sorted. */
export function containerStatusJson(r: ContainerStatusResponse) {
  const s = r.status!;
  const started = s.state !== ContainerState.CONTAINER_CREATED;
  const finished = s.state === ContainerState.CONTAINER_EXITED || (s.state === ContainerState.CONTAINER_UNKNOWN && s.finishedAt > 0n);
  return statusJsonWithTimes(protoJson(ContainerStatusSchema, s), {
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
  usage: 'inspect [-o json|yaml|table] [-q] CONTAINER-ID...',
  noIdsMessage: 'ID cannot be empty',
  resolve: resolveContainerIds,
  status: (cri, id, verbose, timeoutMs) => cri.runtime.containerStatus({ containerId: id, verbose }, { timeoutMs }),
  failedContext: (name) => `getting the status of the container "${name}"`,
  noStatusMessage: (name) => `the runtime sent no status for container "${name}"`,
  text: (r, verbose) => containerStatusText(r, verbose),
  json: containerStatusJson,
});

const logsCommand: Command = {
  name: 'logs',
  summary: 'Fetch the logs of a container',
  usage:
    'logs [-f] [--tail N] [-t|--timestamps] [--since TIME] [--limit-bytes N] [-p|--previous] CONTAINER-ID | logs pod/NAME [-c CONTAINER] [-f]',
  async run(argv) {
    // `logs pod/NAME` is kubectl-style, through the node API.
    if (argv.some((a) => a.startsWith('pod/'))) return podLogsCommand.run(argv);
    const { globals, own } = splitLeadingGlobals(argv, ['logs']);
    const { values, positionals } = parseOwnArgs(own, {
      ...LONG_GLOBALS,
      timeout: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
      previous: { type: 'boolean', short: 'p' },
      tail: { type: 'string' },
      'limit-bytes': { type: 'string' },
      since: { type: 'string' },
      timestamps: { type: 'boolean', short: 't' },
    });
    if (positionals.length === 0) throw invalidArgument('bad-flag', 'ID cannot be empty');
    if (positionals.length > 1) throw invalidArgument('bad-flag', 'logs takes one container ID');
    const tail = intFlag(values.tail, 'tail', -1);
    const limitBytes = intFlag(values['limit-bytes'], 'limit-bytes', -1);
    const sinceNanos = values.since === undefined || values.since === '' ? undefined : parseSince(values.since);
    const ep = endpointsFromGlobals(globals, values);
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
};

/** Exec's own flags that take a value (everything up to the container ID is a flag). */
const EXEC_VALUE_FLAGS = new Set(['--timeout', '-r', '--runtime-endpoint', '--image-endpoint']);

/** `[flags] CONTAINER CMD...`: flags end at the container ID; the rest is the command (a leading `--` dropped). */
export function splitExecArgs(own: string[]): { flags: string[]; container?: string; cmd: string[] } {
  const flags: string[] = [];
  let i = 0;
  for (; i < own.length; i++) {
    const token = own[i]!;
    if (token === '--') {
      i++;
      break;
    }
    if (!token.startsWith('-') || token === '-') break;
    flags.push(token);
    if (EXEC_VALUE_FLAGS.has(token) && i + 1 < own.length) flags.push(own[++i]!);
  }
  const container = own[i];
  let cmd = own.slice(i + 1);
  if (cmd[0] === '--') cmd = cmd.slice(1);
  return { flags, container, cmd };
}

const execCommand: Command = {
  name: 'exec',
  summary: 'Run a command in a running container (-i: with stdin, -t: on a terminal; -s: synchronously, collecting its output)',
  usage:
    'exec [-i] [-t] CONTAINER-ID COMMAND [ARG...] | exec -s [--timeout SECONDS] CONTAINER-ID COMMAND [ARG...] | exec pod/NAME [-c CONTAINER] [-i] [-t] -- COMMAND [ARG...]',
  async run(argv) {
    // `exec pod/NAME` is kubectl-style, through the node API.
    if (namesPod(argv)) return podExecCommand.run(argv);
    const { globals, own } = splitLeadingGlobals(argv, ['exec']);
    const split = splitExecArgs(own);
    const { values } = parseOwnArgs(split.flags, {
      ...LONG_GLOBALS,
      sync: { type: 'boolean', short: 's' },
      timeout: { type: 'string' },
      tty: { type: 'boolean', short: 't' },
      interactive: { type: 'boolean', short: 'i' },
    });
    if (split.container === undefined || split.cmd.length === 0)
      throw invalidArgument('bad-flag', 'exec needs CONTAINER-ID COMMAND [ARG...]');
    if (!values.sync) {
      return streamingExec(endpointsFromGlobals(globals, values), split.container, split.cmd, {
        stdin: values.interactive === true,
        tty: values.tty === true,
      });
    }
    const seconds = intFlag(values.timeout, 'timeout', 0);
    const ep = endpointsFromGlobals(globals, values);
    const cmd = split.cmd;
    const r = await withCri(ep, async (cri) => {
      const [id] = await resolveContainerIds(cri, [split.container!], ep.timeoutMs);
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
};

const statsCommand: Command = {
  name: 'stats',
  summary: 'List container resource usage statistics',
  usage: 'stats [-a] [--id ID] [-p POD-ID] [--label K=V]... [-s SECONDS] [-w] [-o table|json|yaml] [ID]',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      all: { type: 'boolean', short: 'a' },
      id: { type: 'string' },
      pod: { type: 'string', short: 'p' },
      label: { type: 'string', multiple: true },
      output: { type: 'string', short: 'o' },
      seconds: { type: 'string', short: 's' },
      watch: { type: 'boolean', short: 'w' },
    });
    if (positionals.length > 1) throw invalidArgument('bad-flag', 'stats takes at most one container ID');
    const format = parseListFormat(values.output, 'table');
    const seconds = intFlag(values.seconds, 'seconds', 1);
    const labelSelector = parseLabels(values.label);
    const idArg = values.id ?? positionals[0];
    const ep = endpointsFrom(values);
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
          process.stdout.write(formatDocument({ stats: byId(await sample()).map((s) => protoJson(ContainerStatsSchema, s)) }, format));
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
};

const updateCommand: Command = {
  name: 'update',
  summary: 'Update the resources of one or more running containers',
  usage:
    'update [--cpu-share N] [--cpu-quota N] [--cpu-period N] [--cpuset-cpus LIST] [--cpuset-mems LIST] [--memory BYTES] CONTAINER-ID...',
  async run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      'cpu-count': { type: 'string' },
      'cpu-maximum': { type: 'string' },
      'cpu-period': { type: 'string' },
      'cpu-quota': { type: 'string' },
      'cpu-share': { type: 'string' },
      memory: { type: 'string' },
      'cpuset-cpus': { type: 'string' },
      'cpuset-mems': { type: 'string' },
    });
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
    const ep = endpointsFrom(values);
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
};

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
