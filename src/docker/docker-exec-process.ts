// One Docker exec as a StreamProcess: exec create, then exec start on a hijacked connection that
// carries stdin one way and the output the other (raw with a terminal, multiplexed without).
//
// Docker has no call to kill an exec, and neither the engine nor cri-dockerd ends one when its
// client goes away: the command would run on in the container. kill() does it from the host, as
// berth's own exec does: the exec's process (its host pid from exec inspect, checked to be in the
// container's cgroup so that a recycled pid is never hit) is frozen with its tree and killed, and
// its session with it (runc makes an exec'd process a session leader), so nothing it started stays.
import { readFile } from 'node:fs/promises';
import type { Readable, Writable } from 'node:stream';
import type Docker from 'dockerode';
import { notFound } from '../errors/errors.ts';
import { killProcessTree, killSession } from '../runtime/oci/proc.ts';
import type { TerminalSize } from '../streaming/remote-command.ts';
import type { StreamProcess } from '../streaming/run-remote-command.ts';
import { sleep } from '../util/sleep.ts';
import { checkRunning, runningContainer } from './docker-container-lookup.ts';
import { type DockerEngine, dockerCall, isDockerNotFound } from './docker-engine.ts';
import { type HijackedSocket, hijackedClosed, hijackedInput, hijackedOutput } from './docker-hijacked-stream.ts';

export interface DockerExecOptions {
  cmd: string[];
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  tty: boolean;
  /** The terminal size to start with (TTY only). */
  size?: TerminalSize;
  /** The container as its caller just inspected it (ExecSync): not looked up again. */
  inspected?: Docker.ContainerInspectInfo;
}

/** An exec always ends with an exit code. */
export interface DockerExecProcess extends StreamProcess {
  readonly done: Promise<number>;
}

/** How often, and how many times, exec inspect is asked whether the process still runs. */
const POLL_MS = 50;
const EXIT_POLLS = 40;
/** A started exec whose process does not exist yet (the engine starts it after the upgrade). */
const KILL_POLLS = 100;
/** The engine resizes only a started process: the first resize is retried, as the docker CLI does. */
const RESIZE_TRIES = 5;

function apiAtLeast(engine: DockerEngine, version: string): boolean {
  const [am = 0, an = 0] = engine.apiVersion.split('.').map(Number);
  const [bm = 0, bn = 0] = version.split('.').map(Number);
  return am - bm > 0 || (am === bm && an >= bn);
}

/** The process `pid` is one of the container's (not a pid recycled since). */
async function inContainer(pid: number, containerId: string): Promise<boolean> {
  const cgroups = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
  return cgroups.includes(containerId);
}

async function killExecProcess(pid: number, containerId: string): Promise<void> {
  if (!(pid > 0) || !(await inContainer(pid, containerId))) return;
  await killProcessTree(pid);
  await killSession(pid);
}

export async function startDockerExec(engine: DockerEngine, containerId: string, options: DockerExecOptions): Promise<DockerExecProcess> {
  const info = options.inspected ? checkRunning(options.inspected, containerId) : await runningContainer(engine, containerId);
  const id = info.Id;
  const create: Docker.ExecCreateOptions = {
    Cmd: options.cmd,
    AttachStdin: options.stdin,
    AttachStdout: options.stdout,
    AttachStderr: options.stderr && !options.tty,
    Tty: options.tty,
  };
  if (options.tty && options.size && apiAtLeast(engine, '1.42')) create.ConsoleSize = [options.size.height, options.size.width];
  let exec: Docker.Exec;
  try {
    exec = await dockerCall(`create an exec in container ${id}`, () => engine.docker.getContainer(id).exec(create));
  } catch (e) {
    if (isDockerNotFound(e)) throw notFound('container-not-found', `container ${id} not found`, { cause: e, fields: { id } });
    throw e;
  }
  const socket = await dockerCall(`start exec ${exec.id} in container ${id}`, () =>
    exec.start({ hijack: true, stdin: options.stdin, Detach: false, Tty: options.tty }),
  );
  socket.on('error', () => {});
  return new ExecSession(exec, id, socket, options);
}

class ExecSession implements DockerExecProcess {
  readonly stdin?: Writable;
  readonly stdout?: Readable;
  readonly stderr?: Readable;
  readonly done: Promise<number>;
  readonly #exec: Docker.Exec;
  readonly #containerId: string;
  readonly #socket: HijackedSocket;
  readonly #tty: boolean;
  #killing: Promise<void> | undefined;

  constructor(exec: Docker.Exec, containerId: string, socket: HijackedSocket, options: DockerExecOptions) {
    this.#exec = exec;
    this.#containerId = containerId;
    this.#socket = socket;
    this.#tty = options.tty;
    const output = hijackedOutput(socket, options.tty);
    this.stdout = output.stdout;
    this.stderr = output.stderr;
    if (options.stdin) this.stdin = hijackedInput(socket);
    this.done = hijackedClosed(socket).then(() => this.#exitCode());
    this.done.catch(() => {});
    if (options.tty && options.size) void this.#firstResize(options.size);
  }

  async #firstResize(size: TerminalSize): Promise<void> {
    for (let i = 0; i < RESIZE_TRIES; i++) {
      if (await this.#resize(size)) return;
      await sleep(10 * (i + 1));
    }
  }

  #resize(size: TerminalSize): Promise<boolean> {
    return this.#exec.resize({ h: size.height, w: size.width }).then(
      () => true,
      () => false,
    );
  }

  resize(size: TerminalSize): void {
    if (this.#tty) void this.#resize(size);
  }

  async #inspect(): Promise<Docker.ExecInspectInfo> {
    return dockerCall(`inspect exec ${this.#exec.id}`, () => this.#exec.inspect());
  }

  /** The stream ended: the engine marks the exec done around then; a process left running is killed. */
  async #exitCode(): Promise<number> {
    for (let i = 0; i < EXIT_POLLS; i++) {
      const state = await this.#inspect();
      if (!state.Running && state.ExitCode !== null) return state.ExitCode;
      await sleep(POLL_MS);
    }
    await this.#stopProcess();
    const state = await this.#inspect();
    return state.ExitCode ?? -1;
  }

  /** Kills the exec's process until the engine reports it ended; gives up when the engine cannot say. */
  async #stopProcess(): Promise<void> {
    for (let i = 0; i < KILL_POLLS; i++) {
      const state = await this.#inspect().catch(() => undefined);
      if (!state || (!state.Running && state.ExitCode !== null)) return;
      if (state.Running) await killExecProcess(state.Pid, this.#containerId);
      await sleep(POLL_MS);
    }
  }

  kill(): Promise<void> {
    this.#killing ??= (async () => {
      await this.#stopProcess();
      this.#socket.destroy();
      await this.done.catch(() => {});
    })();
    return this.#killing;
  }
}
