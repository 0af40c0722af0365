// Streaming commands against any CRI endpoint: exec (interactive, with -i/-t), attach and
// port-forward. The CRI hands out a URL on the runtime's streaming server; the stream goes over a
// WebSocket (v5.channel.k8s.io) when the server speaks it, else over SPDY/3.1 (every runtime does).
// A streaming URL works once, so falling back asks the runtime for a new one.
import type http from 'node:http';
import type { CriClient } from '../cri/cri-client.ts';
import { invalidArgument } from '../errors/errors.ts';
import { UpgradeError } from '../streaming/client/http-upgrade.ts';
import { type ForwardedPort, forwardPorts } from '../streaming/client/port-forward-client.ts';
import {
  type RemoteCommandClientOptions,
  type RemoteCommandResult,
  streamOverSpdy,
  streamOverWebSocket,
} from '../streaming/client/remote-command-client.ts';
import type { CommandOutcome, TerminalSize } from '../streaming/remote-command.ts';
import type { Command, Endpoints } from './command.ts';
import {
  endpointsFromGlobals,
  parseOwnArgs,
  resolveContainerIds,
  resolvePodIds,
  splitLeadingGlobals,
  withContext,
  withCri,
} from './container-cri.ts';
import { namesPod, podPortForwardCommand } from './pod-stream-commands.ts';

const LONG_GLOBALS = {
  'runtime-endpoint': { type: 'string', short: 'r' },
  'image-endpoint': { type: 'string' },
  debug: { type: 'boolean', short: 'D' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The local terminal for a session: raw mode while it lasts (TTY), its size and size changes. */
function localTerminal(tty: boolean): Pick<RemoteCommandClientOptions, 'size' | 'onResize'> & { restore(): void } {
  const stdin = process.stdin;
  const raw = tty && stdin.isTTY === true;
  if (raw) stdin.setRawMode(true);
  const size = (): TerminalSize | undefined =>
    process.stdout.isTTY && process.stdout.columns > 0 ? { width: process.stdout.columns, height: process.stdout.rows } : undefined;
  return {
    size,
    onResize: (listener) => {
      process.stdout.on('resize', listener);
      return () => process.stdout.off('resize', listener);
    },
    restore: () => {
      if (raw) stdin.setRawMode(false);
    },
  };
}

/**
 * Runs a session on URLs from `getUrl`: WebSocket first, then SPDY on a fresh URL when the server
 * refuses the WebSocket upgrade.
 */
async function stream(getUrl: () => Promise<string>, options: RemoteCommandClientOptions): Promise<RemoteCommandResult> {
  const url = await getUrl();
  try {
    return await streamOverWebSocket(url, options);
  } catch (e) {
    if (!(e instanceof UpgradeError)) throw e;
  }
  return streamOverSpdy(await getUrl(), options);
}

/** What an outcome means for the command's exit status (the remote exit code when there is one). */
function exitStatus(outcome: CommandOutcome, what: string): number {
  if (outcome.kind === 'success') return 0;
  if (outcome.kind === 'exit') return outcome.code;
  process.stderr.write(`berth ${what}: ${outcome.message}\n`);
  return 1;
}

export async function runSession(
  getUrl: () => Promise<string>,
  io: { stdin: boolean; tty: boolean },
  what: string,
  agent?: http.Agent,
): Promise<number> {
  const terminal = localTerminal(io.tty);
  try {
    const result = await stream(getUrl, {
      stdin: io.stdin ? process.stdin : undefined,
      stdout: process.stdout,
      stderr: io.tty ? undefined : process.stderr,
      tty: io.tty,
      size: terminal.size,
      onResize: terminal.onResize,
      ...(agent ? { agent } : {}),
    });
    return exitStatus(result.outcome, what);
  } finally {
    terminal.restore();
    if (io.stdin) {
      process.stdin.pause();
      process.stdin.unref?.();
    }
  }
}

/** `berth exec [-i] [-t] CONTAINER CMD...` without -s: a streaming exec; resolves with the command's exit status. */
export async function streamingExec(
  ep: Endpoints,
  container: string,
  cmd: string[],
  io: { stdin: boolean; tty: boolean },
): Promise<number> {
  return withCri(ep, async (cri) => {
    const [id] = await resolveContainerIds(cri, [container], ep.timeoutMs);
    const getUrl = async (): Promise<string> =>
      (
        await cri.runtime
          .exec({ containerId: id, cmd, tty: io.tty, stdin: io.stdin, stdout: true, stderr: !io.tty }, { timeoutMs: ep.timeoutMs })
          .catch((e: unknown) => {
            throw withContext(e, 'exec failed');
          })
      ).url;
    return runSession(getUrl, io, 'exec');
  });
}

const attachCommand: Command = {
  name: 'attach',
  summary: 'Attach to a running container',
  usage: 'attach [-i] [-t] CONTAINER-ID',
  async run(argv) {
    const { globals, own } = splitLeadingGlobals(argv, ['attach']);
    const { values, positionals } = parseOwnArgs(own, {
      ...LONG_GLOBALS,
      stdin: { type: 'boolean', short: 'i' },
      tty: { type: 'boolean', short: 't' },
    });
    if (positionals.length !== 1) throw invalidArgument('bad-flag', 'attach needs exactly one CONTAINER-ID');
    const ep = endpointsFromGlobals(globals, values);
    const io = { stdin: values.stdin === true, tty: values.tty === true };
    return withCri(ep, async (cri: CriClient) => {
      const [id] = await resolveContainerIds(cri, positionals, ep.timeoutMs);
      const getUrl = async (): Promise<string> =>
        (
          await cri.runtime
            .attach({ containerId: id, stdin: io.stdin, tty: io.tty, stdout: true, stderr: !io.tty }, { timeoutMs: ep.timeoutMs })
            .catch((e: unknown) => {
              throw withContext(e, 'attach failed');
            })
        ).url;
      return runSession(getUrl, io, 'attach');
    });
  },
};

/** `[LOCAL:]REMOTE` as kubectl and crictl write it; LOCAL 0 picks a free port. */
export function parsePortSpec(spec: string): ForwardedPort {
  const m = /^(?:(\d+):)?(\d+)$/.exec(spec);
  const local = Number(m?.[1] ?? m?.[2]);
  const remote = Number(m?.[2]);
  if (!m || local > 65535 || remote < 1 || remote > 65535) {
    throw invalidArgument('bad-flag', `invalid port "${spec}": expected [LOCAL_PORT:]REMOTE_PORT`);
  }
  return { local, remote };
}

/** Forwards `ports` through the port-forward endpoint at `url` until interrupted (0) or the connection is lost (1). */
export async function runPortForward(
  url: string,
  ports: ForwardedPort[],
  addresses: string[] | undefined,
  agent?: http.Agent,
): Promise<number> {
  const forwarding = await forwardPorts(url, ports, {
    addresses,
    ...(agent ? { agent } : {}),
    onListening: (address, p) =>
      process.stdout.write(`Forwarding from ${address.includes(':') ? `[${address}]` : address}:${p.local} -> ${p.remote}\n`),
    onConnection: (p) => process.stdout.write(`Handling connection for ${p.local}\n`),
    onError: (p, message) => process.stderr.write(`error: an error occurred forwarding ${p.local} -> ${p.remote}: ${message}\n`),
  });
  let interrupted = false;
  const stop = (): void => {
    interrupted = true;
    void forwarding.close();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await forwarding.done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  if (interrupted) return 0;
  process.stderr.write('berth port-forward: lost connection to the pod\n');
  return 1;
}

const portForwardCommand: Command = {
  name: 'port-forward',
  summary: 'Forward local ports to a pod',
  usage: 'port-forward [--address ADDR]... POD-ID [LOCAL_PORT:]REMOTE_PORT... | port-forward pod/NAME [LOCAL_PORT:]REMOTE_PORT...',
  async run(argv) {
    // `port-forward pod/NAME` is kubectl-style, through the node API.
    if (namesPod(argv)) return podPortForwardCommand.run(argv);
    const { globals, own } = splitLeadingGlobals(argv, ['port-forward']);
    const { values, positionals } = parseOwnArgs(own, {
      ...LONG_GLOBALS,
      address: { type: 'string', multiple: true },
    });
    if (positionals.length < 2) throw invalidArgument('bad-flag', 'port-forward needs POD-ID and at least one [LOCAL_PORT:]REMOTE_PORT');
    const ports = positionals.slice(1).map(parsePortSpec);
    const ep = endpointsFromGlobals(globals, values);
    const addresses = values.address?.flatMap((a) => a.split(',')).flatMap((a) => (a === 'localhost' ? ['127.0.0.1', '::1'] : [a]));
    return withCri(ep, async (cri) => {
      const [podId] = await resolvePodIds(cri, [positionals[0]!], ep.timeoutMs);
      const { url } = await cri.runtime
        .portForward({ podSandboxId: podId, port: ports.map((p) => p.remote) }, { timeoutMs: ep.timeoutMs })
        .catch((e: unknown) => {
          throw withContext(e, 'port forward failed');
        });
      return runPortForward(url, ports, addresses);
    });
  },
};

export const streamCommands: Command[] = [attachCommand, portForwardCommand];
