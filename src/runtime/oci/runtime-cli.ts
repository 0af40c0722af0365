// The OCI runtime's command line (runc, crun): `--root R --log-format json <command> …`, its JSON
// answers parsed and its failures turned into BerthErrors with the runtime's own message.
import path from 'node:path';
import { type BerthError, failedPrecondition, internal, notFound } from '../../errors/errors.ts';
import type { ContainerRuntimeStatus, LinuxResources, RuntimeState } from './oci-runtime.ts';
import { runCommand } from './run-command.ts';

/** How long one runtime command may take before it is killed. */
const COMMAND_TIMEOUT_MS = 120_000;

/**
 * The runtime's error message from its stderr: runc and crun with `--log-format json` write
 * `{"level":"error","msg":"…"}` lines; text logs look like `time="…" level=error msg="…"`.
 * Falls back to the trimmed text.
 */
export function runtimeErrorMessage(stderr: string): string {
  const messages: string[] = [];
  for (const line of stderr.split('\n')) {
    const text = line.trim();
    if (text === '') continue;
    if (text.startsWith('{')) {
      try {
        const entry = JSON.parse(text) as { level?: string; msg?: string };
        if (typeof entry.msg === 'string' && (entry.level === undefined || entry.level === 'error' || entry.level === 'fatal')) {
          messages.push(entry.msg);
          continue;
        }
        if (typeof entry.msg === 'string') continue; // info/debug/warn lines are not the error
      } catch {
        // not JSON after all
      }
    }
    const m = /level=(?:error|fatal) msg="((?:[^"\\]|\\.)*)"/.exec(text);
    if (m) {
      try {
        messages.push(JSON.parse(`"${m[1]}"`) as string);
      } catch {
        messages.push(m[1]!);
      }
      continue;
    }
    messages.push(text);
  }
  // runc repeats a fatal error on plain stderr after logging it; keep each message once.
  return [...new Set(messages)].join('; ');
}

/** Error kinds for what the runtime says: unknown container, not running, wrong state. */
export function classifyRuntimeError(command: string, id: string, message: string, runtimeName: string): BerthError {
  const fields = { id, command, runtimeMessage: message };
  const text = `${runtimeName} ${command} ${id}: ${message}`;
  // runc: "container does not exist"; crun: "error opening file `<root>/<id>/status`: No such file or directory".
  if (/does not exist|no such container|\/status`?: No such file or directory/i.test(message)) {
    return notFound('container-not-found', text, { fields });
  }
  if (/not running|process already finished|container .* is stopped|stopped container|no such process/i.test(message)) {
    return failedPrecondition('container-not-running', text, { fields });
  }
  if (/cannot start|not stopped|already running|cannot delete|is paused|already exists|already been created/i.test(message)) {
    return failedPrecondition('container-wrong-state', text, { fields });
  }
  return internal('runtime-failed', text, { fields });
}

export interface RuntimeCommandOptions {
  stdin?: string;
  signal?: AbortSignal;
}

export class RuntimeCli {
  readonly path: string;
  readonly root: string;
  readonly name: string;

  constructor(runtimePath: string, root: string) {
    this.path = runtimePath;
    this.root = root;
    this.name = path.basename(runtimePath);
  }

  /** The global arguments every invocation starts with (also passed to conmon). */
  globalArgs(): string[] {
    return ['--root', this.root];
  }

  /** Runs `<runtime> --root R --log-format json <args…>`; throws a classified BerthError when it fails. */
  async run(command: string, args: string[], id: string, options: RuntimeCommandOptions = {}): Promise<string> {
    const argv = [...this.globalArgs(), '--log-format', 'json', command, ...args];
    const result = await runCommand(this.path, argv, { stdin: options.stdin, signal: options.signal, timeoutMs: COMMAND_TIMEOUT_MS });
    if (result.timedOut) {
      throw internal('runtime-timeout', `${this.name} ${command} ${id} did not finish within ${COMMAND_TIMEOUT_MS / 1000} s`, {
        fields: { id, command },
      });
    }
    if (result.code !== 0) {
      const message = runtimeErrorMessage(result.stderr.toString('utf8')) || `exit status ${result.code ?? result.exitSignal}`;
      throw classifyRuntimeError(command, id, message, this.name);
    }
    return result.stdout.toString('utf8');
  }

  async state(id: string, signal?: AbortSignal): Promise<RuntimeState> {
    const out = await this.run('state', [id], id, { signal });
    const raw = JSON.parse(out) as { status?: string; pid?: number; bundle?: string; created?: string };
    const status = raw.status as ContainerRuntimeStatus;
    const createdAt = raw.created ? Date.parse(raw.created) : Number.NaN;
    return {
      status: ['created', 'running', 'paused', 'stopped'].includes(status) ? status : 'stopped',
      pid: raw.pid ?? 0,
      bundle: raw.bundle,
      createdAt: Number.isNaN(createdAt) ? undefined : createdAt,
    };
  }

  /** The IDs the runtime has state for. */
  async list(signal?: AbortSignal): Promise<string[]> {
    const out = await this.run('list', ['--format', 'json'], '', { signal });
    const raw = JSON.parse(out.trim() === '' ? 'null' : out) as { id: string }[] | null;
    return (raw ?? []).map((c) => c.id);
  }

  async start(id: string, signal?: AbortSignal): Promise<void> {
    await this.run('start', [id], id, { signal });
  }

  async kill(id: string, sig: string, all: boolean, signal?: AbortSignal): Promise<void> {
    await this.run('kill', [...(all ? ['--all'] : []), id, sig], id, { signal });
  }

  async delete(id: string, force: boolean, signal?: AbortSignal): Promise<void> {
    await this.run('delete', [...(force ? ['--force'] : []), id], id, { signal });
  }

  async resume(id: string, signal?: AbortSignal): Promise<void> {
    await this.run('resume', [id], id, { signal });
  }

  async update(id: string, resources: LinuxResources, signal?: AbortSignal): Promise<void> {
    await this.run('update', ['--resources', '-', id], id, { stdin: JSON.stringify(resources), signal });
  }
}

/** `SIGTERM`, `TERM` and 15 all become `TERM`-style names runc and crun accept. */
export function signalArgument(sig: NodeJS.Signals | number | string): string {
  if (typeof sig === 'number') return String(sig);
  return sig.startsWith('SIG') ? sig.slice(3) : sig;
}
