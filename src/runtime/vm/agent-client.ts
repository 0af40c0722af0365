// The host side of the guest agent's protocol (version 1, docs/VM.md): newline-delimited JSON over
// the unix socket of QEMU's virtio-serial chardev. Each request carries an ID and waits for the
// reply with that ID; replies without a waiting request (answers to a connection that closed) are
// dropped, so the client may disconnect and reconnect at any time while the guest keeps running.
import { connect as netConnect, type Socket } from 'node:net';
import { alreadyExists, type BerthError, deadlineExceeded, internal, invalidArgument, notFound, unavailable } from '../../errors/errors.ts';
import { abortError, throwIfAborted } from '../../util/abortable.ts';

export const AGENT_PROTOCOL = 1;

export interface AgentRequestOptions {
  /** How long to wait for the reply; default the client's `requestTimeoutMs`. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface AgentExecResult {
  /** 128+N when killed by signal N (137 when `killAfterSeconds` fired). */
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  /** Output past `maxOutputBytes` was cut in the guest. */
  truncated: { stdout: boolean; stderr: boolean };
}

export interface AgentExecOptions extends AgentRequestOptions {
  /** Run inside this container (`runc exec`) instead of in the guest itself. */
  containerId?: string;
  /** The guest kills the command after this many seconds. */
  killAfterSeconds?: number;
  /** `NAME=value` entries added to the environment. */
  env?: readonly string[];
  /** Keep at most this many bytes of stdout and of stderr each. */
  maxOutputBytes?: number;
}

export interface AgentRunRequest {
  containerId: string;
  /** Guest paths: the bundle directory (with config.json) and the files for the output. */
  bundle: string;
  stdout?: string;
  stderr?: string;
}

export type AgentContainerState = { status: 'running'; pid: number } | { status: 'stopped'; exitCode: number };

interface Pending {
  resolve(result: Record<string, unknown>): void;
  reject(error: BerthError): void;
}

const SAFE_ID = /^[A-Za-z0-9_.-]+$/;
// A reply longer than this without a newline is a guest gone wrong, not output: drop the connection.
const MAX_LINE = 64 * 1024 * 1024;
const b64 = (s: string): string => Buffer.from(s).toString('base64');

export class AgentClient {
  readonly socketPath: string;
  readonly requestTimeoutMs: number;
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #buffered = '';
  #pending = new Map<number, Pending>();
  // A random start keeps IDs of two clients (a daemon before and after a restart) apart.
  #nextId = Math.floor(Math.random() * 2 ** 31);

  constructor(socketPath: string, options: { requestTimeoutMs?: number } = {}) {
    this.socketPath = socketPath;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  get connected(): boolean {
    return this.#socket !== undefined;
  }

  /** Connects if not connected; requests call it themselves, so a lost connection is re-made. */
  async connect(signal?: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.#socket !== undefined) return;
    this.#connecting ??= this.#open().finally(() => {
      this.#connecting = undefined;
    });
    await this.#connecting;
  }

  /** Closes the connection; requests in flight fail with UNAVAILABLE. The guest keeps running. */
  disconnect(): void {
    this.#socket?.destroy();
    this.#dropConnection('disconnected by the host');
  }

  async request(op: string, params: Record<string, unknown> = {}, options: AgentRequestOptions = {}): Promise<Record<string, unknown>> {
    await this.connect(options.signal);
    const socket = this.#socket;
    if (socket === undefined) throw unavailable('vm-agent-unavailable', `agent socket ${this.socketPath} closed`);
    const id = this.#nextId++;
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#pending.delete(id);
      };
      const onAbort = (): void => {
        settle();
        reject(abortError(options.signal!));
      };
      const timer = setTimeout(() => {
        settle();
        reject(deadlineExceeded('vm-agent-timeout', `agent did not answer ${op} within ${timeoutMs} ms`, { fields: { op, id } }));
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, {
        resolve: (result) => {
          settle();
          resolve(result);
        },
        reject: (error) => {
          settle();
          reject(error);
        },
      });
      socket.write(`${JSON.stringify({ ...params, v: AGENT_PROTOCOL, id, op })}\n`);
    });
  }

  async ping(options?: AgentRequestOptions): Promise<{ protocol: number; agent: string }> {
    const r = await this.request('ping', {}, options);
    return { protocol: Number(r.protocol), agent: String(r.agent) };
  }

  /** The guest kernel's release (`uname -r`) and its uptime in seconds. */
  async info(options?: AgentRequestOptions): Promise<{ kernelRelease: string; uptimeSeconds: number }> {
    const r = await this.request('info', {}, options);
    return { kernelRelease: String(r.kernelRelease), uptimeSeconds: Number(r.uptime) };
  }

  /** Runs `argv` in the guest (or in one of its containers) and collects its output and exit code. */
  async exec(argv: readonly string[], options: AgentExecOptions = {}): Promise<AgentExecResult> {
    if (argv.length === 0) throw invalidArgument('vm-bad-request', 'exec needs a command');
    const params: Record<string, unknown> = { argv: argv.map(b64) };
    if (options.containerId !== undefined) params.cid = checkId(options.containerId);
    if (options.killAfterSeconds !== undefined) params.timeout = Math.max(1, Math.ceil(options.killAfterSeconds));
    if (options.env !== undefined && options.env.length > 0) params.env = options.env.map(b64);
    if (options.maxOutputBytes !== undefined) params.max = Math.max(0, Math.floor(options.maxOutputBytes));
    const r = await this.request('exec', params, options);
    const truncated = (r.truncated ?? {}) as { stdout?: unknown; stderr?: unknown };
    return {
      exitCode: Number(r.exitCode),
      stdout: Buffer.from(String(r.stdout), 'base64'),
      stderr: Buffer.from(String(r.stderr), 'base64'),
      truncated: { stdout: truncated.stdout === true, stderr: truncated.stderr === true },
    };
  }

  /** Starts a container from a bundle on the guest's share; resolves once it runs (its guest pid). */
  async run(req: AgentRunRequest, options?: AgentRequestOptions): Promise<{ pid: number }> {
    const params: Record<string, unknown> = { cid: checkId(req.containerId), bundle: b64(req.bundle) };
    if (req.stdout !== undefined) params.stdout = b64(req.stdout);
    if (req.stderr !== undefined) params.stderr = b64(req.stderr);
    const r = await this.request('run', params, options);
    return { pid: Number(r.pid) };
  }

  /** Waits up to `waitMs` in the guest for the container to exit; `undefined` if it still runs. */
  async wait(containerId: string, waitMs: number, options: AgentRequestOptions = {}): Promise<number | undefined> {
    const timeoutMs = options.timeoutMs ?? waitMs + this.requestTimeoutMs;
    const r = await this.request(
      'wait',
      { cid: checkId(containerId), timeout: Math.max(0, Math.floor(waitMs)) },
      { ...options, timeoutMs },
    );
    return r.exited === true ? Number(r.exitCode) : undefined;
  }

  async state(containerId: string, options?: AgentRequestOptions): Promise<AgentContainerState> {
    const r = await this.request('state', { cid: checkId(containerId) }, options);
    return r.status === 'stopped' ? { status: 'stopped', exitCode: Number(r.exitCode) } : { status: 'running', pid: Number(r.pid) };
  }

  /** Sends a signal (a name such as TERM or KILL, or a number) to the container; a no-op once it stopped. */
  async kill(containerId: string, signal: string | number = 'TERM', options?: AgentRequestOptions): Promise<void> {
    const sig = String(signal).replace(/^SIG/, '');
    await this.request('kill', { cid: checkId(containerId), signal: checkId(sig) }, options);
  }

  async delete(containerId: string, options?: AgentRequestOptions): Promise<void> {
    await this.request('delete', { cid: checkId(containerId) }, options);
  }

  async #open(): Promise<Socket> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = netConnect(this.socketPath);
      s.once('connect', () => {
        s.off('error', reject);
        resolve(s);
      });
      s.once('error', (e) =>
        reject(unavailable('vm-agent-unavailable', `cannot connect to agent socket ${this.socketPath}: ${e.message}`, { cause: e })),
      );
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.#socket === socket) this.#dropConnection('agent socket closed');
    });
    this.#socket = socket;
    this.#buffered = '';
    return socket;
  }

  #dropConnection(why: string): void {
    this.#socket = undefined;
    this.#buffered = '';
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(unavailable('vm-agent-unavailable', `${why} before the agent answered`));
  }

  #onData(chunk: string): void {
    this.#buffered += chunk;
    if (this.#buffered.length > MAX_LINE && !this.#buffered.includes('\n')) {
      this.disconnect();
      return;
    }
    let nl = this.#buffered.indexOf('\n');
    while (nl >= 0) {
      const line = this.#buffered.slice(0, nl);
      this.#buffered = this.#buffered.slice(nl + 1);
      this.#onLine(line);
      nl = this.#buffered.indexOf('\n');
    }
  }

  #onLine(line: string): void {
    let reply: unknown;
    try {
      reply = JSON.parse(line);
    } catch {
      return; // the tail of a line a previous connection began
    }
    if (typeof reply !== 'object' || reply === null) return;
    const r = reply as { v?: unknown; id?: unknown; ok?: unknown; result?: unknown; error?: { code?: unknown; message?: unknown } };
    const pending = typeof r.id === 'number' ? this.#pending.get(r.id) : undefined;
    if (pending === undefined) return; // an answer to a request given up on, or to another connection
    if (r.ok === true) pending.resolve((r.result ?? {}) as Record<string, unknown>);
    else pending.reject(agentError(String(r.error?.code ?? 'unknown'), String(r.error?.message ?? '')));
  }
}

function checkId(id: string): string {
  if (!SAFE_ID.test(id)) throw invalidArgument('vm-bad-request', `${JSON.stringify(id)} is not [A-Za-z0-9_.-]+`, { fields: { id } });
  return id;
}

function agentError(agentCode: string, message: string): BerthError {
  const options = { fields: { agentCode } };
  const text = `agent: ${agentCode}: ${message}`;
  switch (agentCode) {
    case 'not-found':
      return notFound('vm-agent-refused', text, options);
    case 'already-exists':
      return alreadyExists('vm-agent-refused', text, options);
    case 'bad-request':
      return invalidArgument('vm-agent-refused', text, options);
    default:
      return internal('vm-agent-refused', text, options);
  }
}
