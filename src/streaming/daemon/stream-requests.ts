// What Exec, Attach and PortForward accept, checked the way the kubelet's streaming server and the
// CRI runtimes check them, and what a token keeps until the client connects.
import { failedPrecondition, invalidArgument } from '../../errors/errors.ts';
import type { ContainerRecord, SandboxRecord } from '../../store/pod-store.ts';

/** What the checks look up: berth's pod store, or a backend's own view of one object (the dockershim's). */
export interface ContainerLookup {
  findContainer(id: string): Pick<ContainerRecord, 'id' | 'state'>;
}
export interface SandboxLookup {
  findSandbox(id: string): Pick<SandboxRecord, 'id' | 'state'>;
}

export interface ExecStreamRequest {
  kind: 'exec';
  containerId: string;
  cmd: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface AttachStreamRequest {
  kind: 'attach';
  containerId: string;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

export interface PortForwardStreamRequest {
  kind: 'portforward';
  podSandboxId: string;
  /** Ports named in the request (informational: SPDY clients name the port per stream). */
  ports: number[];
}

export type StreamRequest = ExecStreamRequest | AttachStreamRequest | PortForwardStreamRequest;

/** What the CRI handlers need of the streaming server: a URL per validated request. */
export interface StreamingUrls {
  execUrl(request: ExecStreamRequest): string;
  attachUrl(request: AttachStreamRequest): string;
  portForwardUrl(request: PortForwardStreamRequest): string;
}

interface IoFlags {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
}

function checkIo(what: string, r: IoFlags): void {
  // A terminal has one output: stderr cannot be told apart from stdout.
  if (r.tty && r.stderr) throw invalidArgument('tty-with-stderr', `${what}: tty and stderr cannot both be true`);
  if (!r.stdin && !r.stdout && !r.stderr) throw invalidArgument('no-streams', `${what}: one of stdin, stdout, or stderr must be set`);
}

function runningContainer(store: ContainerLookup, id: string): string {
  if (!id) throw invalidArgument('missing-id', 'missing required container_id');
  const c = store.findContainer(id);
  if (c.state !== 'running') {
    throw failedPrecondition('container-not-running', `container ${c.id} is not running (state: ${c.state})`, {
      fields: { id: c.id, state: c.state },
    });
  }
  return c.id;
}

export function execRequest(store: ContainerLookup, r: { containerId: string; cmd: string[] } & IoFlags): ExecStreamRequest {
  if (!r.containerId) throw invalidArgument('missing-id', 'missing required container_id');
  if (r.cmd.length === 0) throw invalidArgument('bad-command', 'Exec needs a command');
  checkIo('Exec', r);
  const containerId = runningContainer(store, r.containerId);
  return { kind: 'exec', containerId, cmd: [...r.cmd], stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, tty: r.tty };
}

export function attachRequest(store: ContainerLookup, r: { containerId: string } & IoFlags): AttachStreamRequest {
  if (!r.containerId) throw invalidArgument('missing-id', 'missing required container_id');
  checkIo('Attach', r);
  const containerId = runningContainer(store, r.containerId);
  return { kind: 'attach', containerId, stdin: r.stdin, stdout: r.stdout, stderr: r.stderr, tty: r.tty };
}

export function portForwardRequest(store: SandboxLookup, r: { podSandboxId: string; port: number[] }): PortForwardStreamRequest {
  if (!r.podSandboxId) throw invalidArgument('missing-id', 'missing required pod_sandbox_id');
  const s = store.findSandbox(r.podSandboxId);
  if (s.state !== 'ready') {
    throw failedPrecondition('sandbox-not-ready', `pod sandbox ${s.id} is not ready`, { fields: { id: s.id, state: s.state } });
  }
  for (const p of r.port) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw invalidArgument('bad-port', `invalid port ${p}`, { fields: { port: p } });
  }
  return { kind: 'portforward', podSandboxId: s.id, ports: [...r.port] };
}
