// The runtime side of streaming sessions for berth's own pods: exec, attach and port-forward
// against the containers and sandboxes of the pod store, through the container's OCI runtime and
// conmon.

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config/config.ts';
import { failedPrecondition, invalidArgument, notFound } from '../../errors/errors.ts';
import { killProcessTree } from '../../runtime/oci/proc.ts';
import type { PodStore } from '../../store/pod-store.ts';
import type { TerminalSize } from '../remote-command.ts';
import type { StreamProcess } from '../run-remote-command.ts';
import { startAttach } from './attach-process.ts';
import { startPipeExec, startTtyExec } from './exec-process.ts';
import { HostDialer, NetnsDialer, type PortDialer } from './port-dialer.ts';
import type { AttachStreamRequest, ExecStreamRequest } from './stream-requests.ts';

/** What a streaming server needs from a runtime. */
export interface StreamBackend {
  /** Called once before serving: clear what a previous run left. */
  prepare?(): Promise<void>;
  /** `size`: the terminal size to start a TTY process with, when known. */
  startExec(request: ExecStreamRequest, size?: TerminalSize): Promise<StreamProcess>;
  startAttach(request: AttachStreamRequest): Promise<StreamProcess>;
  /** A dialer into the pod's network; throws when the pod cannot be reached. */
  portDialer(podSandboxId: string): PortDialer;
}

export interface PodStreamBackendOptions {
  store: Pick<PodStore, 'getContainer' | 'getSandbox'>;
  config: Pick<Config, 'runtimes' | 'default_runtime' | 'conmon'>;
  /** The OCI runtime's state root (`--root`) for a runtime handler. */
  runtimeRoot(handler: string): string;
  /** Where exec sessions keep their files (process spec, conmon's sockets); one directory each. */
  workDir: string;
}

export class PodStreamBackend implements StreamBackend {
  readonly #o: PodStreamBackendOptions;

  constructor(options: PodStreamBackendOptions) {
    this.#o = options;
  }

  #container(id: string) {
    const c = this.#o.store.getContainer(id);
    if (!c) throw notFound('container-not-found', `container ${id} not found`);
    if (c.state !== 'running') throw failedPrecondition('container-not-running', `container ${id} is not running`);
    const handler = c.runtimeHandler || this.#o.config.default_runtime;
    const runtime = this.#o.config.runtimes[handler];
    if (!runtime) throw invalidArgument('unknown-runtime-handler', `container ${id} has an unknown runtime handler "${handler}"`);
    return { record: c, runtimePath: runtime.binary, runtimeRoot: this.#o.runtimeRoot(handler) };
  }

  /**
   * A daemon that was killed left its exec sessions: their conmon (detached, so it lived on) with
   * the command under it, and their directories. Nobody can reach them any more: end them.
   */
  async prepare(): Promise<void> {
    const marker = `${this.#o.workDir}/exec-`;
    for (const name of await readdir('/proc').catch(() => [] as string[])) {
      if (!/^\d+$/.test(name)) continue;
      const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
      if (cmdline.includes(marker)) await killProcessTree(Number(name)).catch(() => []);
    }
    await rm(this.#o.workDir, { recursive: true, force: true });
    await mkdir(this.#o.workDir, { recursive: true, mode: 0o700 });
  }

  async startExec(request: ExecStreamRequest, size?: TerminalSize): Promise<StreamProcess> {
    const { record, runtimePath, runtimeRoot } = this.#container(request.containerId);
    const target = { containerId: record.id, bundle: record.bundle, runtimePath, runtimeRoot, cmd: request.cmd };
    const workDir = path.join(this.#o.workDir, `exec-${randomBytes(6).toString('hex')}`);
    if (request.tty) return startTtyExec(target, { stdin: request.stdin, workDir, conmonPath: this.#o.config.conmon, size });
    return startPipeExec(target, { stdin: request.stdin, workDir });
  }

  async startAttach(request: AttachStreamRequest): Promise<StreamProcess> {
    const { record } = this.#container(request.containerId);
    const stdinOpen = record.config.stdin;
    return startAttach(
      { containerId: record.id, bundle: record.bundle, tty: record.config.tty },
      // conmon keeps no stdin for a container created without it.
      { stdin: request.stdin && stdinOpen },
    );
  }

  portDialer(podSandboxId: string): PortDialer {
    const s = this.#o.store.getSandbox(podSandboxId);
    if (!s) throw notFound('sandbox-not-found', `pod sandbox ${podSandboxId} not found`);
    if (s.hostNetwork) return new HostDialer();
    if (!s.namespaces.net) throw failedPrecondition('sandbox-no-netns', `pod sandbox ${podSandboxId} has no network namespace`);
    return new NetnsDialer({ netns: s.namespaces.net });
  }
}
