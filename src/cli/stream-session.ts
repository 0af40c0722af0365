// A streaming session on a URL (exec, attach: WebSocket v5.channel.k8s.io, else SPDY/3.1 on a fresh
// URL, since a streaming URL works once) with the local terminal, and port forwarding until
// interrupted: what the crictl-style and the kubectl-style streaming commands share.

import type http from 'node:http';
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
