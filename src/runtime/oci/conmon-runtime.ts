// OciRuntime backed by conmon and an OCI runtime CLI (runc or crun), the way CRI-O runs containers:
// one conmon per container, spawned detached so that it outlives the daemon; it runs
// `<runtime> create`, holds the container's stdio and writes the CRI log, and records the exit code
// in a file. Everything needed to find a container again is on disk (see state-layout.ts).
import { constants as fsConstants, watch } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  alreadyExists,
  type BerthError,
  failedPrecondition,
  internal,
  invalidArgument,
  isBerthError,
  notFound,
  toBerthError,
} from '../../errors/errors.ts';
import type { RuntimeSpec } from '../../oci/runtime-spec.ts';
import { throwIfAborted } from '../../util/abortable.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';
import { withCleanup } from '../../util/cleanup-stack.ts';
import { KeyedLock } from '../../util/keyed-lock.ts';
import { type Logger, silentLogger } from '../../util/logger.ts';
import { sleep } from '../../util/sleep.ts';
import { type CgroupLayout, detectCgroupLayout } from '../cgroups/cgroup-layout.ts';
import { cgroupExists, killCgroupProcesses, removeCgroup } from '../cgroups/cgroup-remove.ts';
import { readOomKillCount } from '../cgroups/cgroup-stats.ts';
import { ConmonCreateError, spawnConmon } from './conmon-spawn.ts';
import { execSync } from './exec-sync.ts';
import type {
  CreateContainerOptions,
  CreateContainerResult,
  DeleteOptions,
  ExecSyncOptions,
  ExecSyncResult,
  ExitStatus,
  KillOptions,
  LinuxResources,
  OciRuntime,
  RecoveredContainer,
  RecoverResult,
  RuntimeState,
} from './oci-runtime.ts';
import { isProcessAlive, killProcessTree, readProcStat, signalProcess } from './proc.ts';
import { RuntimeCli, runtimeErrorMessage, signalArgument } from './runtime-cli.ts';
import { missingFixes, readRuncVersion } from './runtime-version.ts';
import { type ContainerMeta, checkContainerId, readIntFile, StateLayout } from './state-layout.ts';

export interface ConmonRuntimeOptions {
  /** The OCI runtime binary: runc or crun. */
  runtimePath: string;
  /** The runtime's state root (`--root`). */
  runtimeRoot: string;
  /** The conmon binary. */
  conmonPath: string;
  /** Where this runtime keeps its own files (per-container dirs, exit files, attach links). */
  stateDir: string;
  logger?: Logger;
  /** How long `<runtime> create` may take. Default 240 s, as CRI-O. */
  createTimeoutMs?: number;
  /** The cgroup mounts; detected from /proc/self/mountinfo when omitted. */
  cgroups?: CgroupLayout;
  /** conmon's `--log-level`. Default `info`. */
  conmonLogLevel?: 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /** Let conmon log to syslog (it logs nowhere otherwise once detached). */
  conmonSyslog?: boolean;
  /**
   * What recover() (at start) does when runc lacks a known container-escape fix: log a warning
   * (default) or refuse (failed-precondition `runtime-vulnerable`).
   */
  vulnerableRuntime?: 'warn' | 'refuse';
}

/** The exit code reported when nothing recorded the real one (what CRI-O and the kubelet use). */
export const UNKNOWN_EXIT_CODE = 255;
/** How often waitExit looks again when no file event woke it (a monitor may die silently). */
const EXIT_POLL_MS = 1000;
/** How long delete() waits for conmon to write its exit file and go, before killing it. */
const CONMON_EXIT_WAIT_MS = 10_000;
/** How long reopenLog() waits for conmon to create the new log file. */
const REOPEN_WAIT_MS = 5_000;

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}

async function readBundleConfig(bundle: string): Promise<RuntimeSpec> {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw notFound('bundle-not-found', `bundle ${bundle} has no config.json`, { cause: e, fields: { bundle } });
    }
    throw e;
  }
  try {
    return JSON.parse(text) as RuntimeSpec;
  } catch (e) {
    throw invalidArgument('bundle-config-invalid', `${file} is not valid JSON: ${(e as Error).message}`, { cause: e, fields: { bundle } });
  }
}

export class ConmonRuntime implements OciRuntime {
  readonly #runtime: RuntimeCli;
  readonly #conmonPath: string;
  readonly #layout: StateLayout;
  readonly #log: Logger;
  readonly #vulnerableRuntime: 'warn' | 'refuse';
  readonly #createTimeoutMs: number;
  readonly #conmonLogLevel: string;
  readonly #conmonSyslog: boolean;
  readonly #locks = new KeyedLock();
  readonly #metas = new Map<string, ContainerMeta>();
  /** Exits already read, by container ID: forgotten when the container is deleted. */
  readonly #exits = new Map<string, ExitStatus>();
  #cgroups: Promise<CgroupLayout | undefined> | undefined;

  constructor(options: ConmonRuntimeOptions) {
    this.#runtime = new RuntimeCli(options.runtimePath, options.runtimeRoot);
    this.#conmonPath = options.conmonPath;
    this.#layout = new StateLayout(options.stateDir);
    this.#log = (options.logger ?? silentLogger()).child({ component: 'conmon-runtime', runtime: this.#runtime.name });
    this.#createTimeoutMs = options.createTimeoutMs ?? 240_000;
    this.#conmonLogLevel = options.conmonLogLevel ?? 'info';
    this.#conmonSyslog = options.conmonSyslog ?? false;
    this.#vulnerableRuntime = options.vulnerableRuntime ?? 'warn';
    if (options.cgroups) this.#cgroups = Promise.resolve(options.cgroups);
  }

  /** The runtime binary's name (`runc`, `crun`). */
  get runtimeName(): string {
    return this.#runtime.name;
  }

  // ---------------------------------------------------------------- create

  async create(options: CreateContainerOptions, signal?: AbortSignal): Promise<CreateContainerResult> {
    const { id } = options;
    checkContainerId(id);
    const bundle = path.resolve(options.bundle);
    const logPath = path.resolve(options.logPath);
    return this.#locks.run(id, async () => {
      throwIfAborted(signal);
      const config = await readBundleConfig(bundle);
      const layout = this.#layout;
      await Promise.all([layout.containersDir, layout.exitsDir, layout.attachDir].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
      if (await exists(path.join(this.#runtime.root, id))) {
        throw alreadyExists('container-exists', `the runtime already has a container ${id}`, { fields: { id } });
      }
      return withCleanup(
        async (stack) => {
          const dir = layout.containerDir(id);
          try {
            await mkdir(dir, { mode: 0o700 });
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
              throw alreadyExists('container-exists', `container ${id} exists already`, { cause: e, fields: { id } });
            }
            throw e;
          }
          stack.push('remove container files', () => this.#removeFiles(id, bundle));
          await rm(layout.exitFile(id), { force: true });
          await mkdir(path.dirname(logPath), { recursive: true });
          if (!(await exists(logPath))) stack.push('remove the log file conmon opened', () => rm(logPath, { force: true }));

          const cgroupsPath = config.linux?.cgroupsPath;
          stack.push('stop conmon and delete the container', async () => {
            await this.#killAndDelete(id);
            // A runtime killed halfway may have made the cgroup (and a process in it) before saving any state.
            await this.#removeLeftoverCgroup(id, cgroupsPath, true);
          });
          let spawned: Awaited<ReturnType<typeof spawnConmon>>;
          try {
            spawned = await spawnConmon({
              conmonPath: this.#conmonPath,
              args: this.#conmonArgs(options, bundle, logPath),
              cwd: dir,
              env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin' },
              timeoutMs: this.#createTimeoutMs,
              signal,
            });
          } catch (e) {
            if (e instanceof ConmonCreateError) throw await this.#createError(id, e.runtimeMessage);
            throw e;
          }
          const conmonPid = await readIntFile(layout.conmonPidFile(id));
          if (conmonPid === undefined)
            throw internal('conmon-pid-missing', `conmon wrote no pid file for container ${id}`, { fields: { id } });
          const [conmonStat, initStat] = await Promise.all([readProcStat(conmonPid), readProcStat(spawned.containerPid)]);
          const meta: ContainerMeta = {
            id,
            bundle,
            logPath,
            tty: options.tty ?? false,
            createdAt: Date.now(),
            pid: spawned.containerPid,
            pidStartTime: initStat?.startTime,
            conmonPid,
            conmonStartTime: conmonStat?.startTime,
            cgroupsPath: config.linux?.cgroupsPath,
          };
          await layout.writeMeta(meta);
          this.#metas.set(id, meta);
          this.#log.debug({ id, pid: meta.pid, conmonPid, forkMs: spawned.forkMs, syncMs: spawned.syncMs }, 'container created');
          return {
            pid: spawned.containerPid,
            conmonPid,
            durationsMs: { conmonFork: spawned.forkMs, runtimeCreate: spawned.syncMs - spawned.forkMs },
          };
        },
        (step, error) => this.#log.warn({ id, step, err: error }, 'undo step of a failed create failed'),
      );
    });
  }

  #conmonArgs(options: CreateContainerOptions, bundle: string, logPath: string): string[] {
    const { id } = options;
    const layout = this.#layout;
    const args = [
      '--api-version',
      '1',
      '-c',
      id,
      '-u',
      id,
      '-n',
      id,
      '-r',
      this.#runtime.path,
      '-b',
      bundle,
      '-p',
      layout.pidFile(id),
      '-P',
      layout.conmonPidFile(id),
      '--persist-dir',
      layout.containerDir(id),
      '--exit-dir',
      layout.exitsDir,
      '--socket-dir-path',
      layout.attachDir,
      '-l',
      `k8s-file:${logPath}`,
      '--log-level',
      this.#conmonLogLevel,
      // One `--flag=value` word per runtime argument: conmon puts them before `create`.
      '--runtime-arg',
      `--root=${this.#runtime.root}`,
      '--runtime-arg',
      `--log=${layout.runtimeLog(id)}`,
      '--runtime-arg',
      '--log-format=json',
    ];
    if (this.#conmonSyslog) args.push('--syslog');
    if (options.logMaxSize !== undefined && options.logMaxSize > 0) args.push('--log-size-max', String(options.logMaxSize));
    if (options.tty) {
      args.push('-t');
    } else if (options.stdin) {
      if (!options.stdinOnce) args.push('--leave-stdin-open');
      args.push('-i');
    }
    return args;
  }

  /** A create failure with the runtime's own words (from conmon's report, else the runtime's log). */
  async #createError(id: string, reported: string): Promise<BerthError> {
    let message = runtimeErrorMessage(reported);
    if (message === '') {
      const log = await readFile(this.#layout.runtimeLog(id), 'utf8').catch(() => '');
      message = runtimeErrorMessage(
        log
          .split('\n')
          .filter((l) => /"level":"(error|fatal)"/.test(l))
          .join('\n'),
      );
    }
    if (message === '') message = 'no message from the runtime';
    const name = this.#runtime.name;
    const text = message.startsWith(`${name} `) ? `container ${id}: ${message}` : `${name} create failed for container ${id}: ${message}`;
    return internal('runtime-create-failed', text, {
      fields: { id, runtimeMessage: message },
    });
  }

  // ---------------------------------------------------------------- lifecycle

  async start(id: string, signal?: AbortSignal): Promise<void> {
    await this.#meta(id);
    await this.#locks.run(id, () => this.#runtime.start(id, signal));
  }

  async kill(id: string, sig: NodeJS.Signals | number, options: KillOptions = {}, signal?: AbortSignal): Promise<void> {
    await this.#meta(id);
    await this.#runtime.kill(id, signalArgument(sig), options.all ?? false, signal);
  }

  async state(id: string, signal?: AbortSignal): Promise<RuntimeState> {
    checkContainerId(id);
    return this.#runtime.state(id, signal);
  }

  async update(id: string, resources: LinuxResources, signal?: AbortSignal): Promise<void> {
    await this.#meta(id);
    await this.#locks.run(id, () => this.#runtime.update(id, resources, signal));
  }

  async stop(
    id: string,
    timeoutSeconds: number,
    stopSignal: NodeJS.Signals | number = 'SIGTERM',
    signal?: AbortSignal,
  ): Promise<ExitStatus> {
    await this.#meta(id);
    const recorded = await this.readExit(id, signal);
    if (recorded) return recorded;
    const state = await this.#runtime.state(id, signal).catch((e: unknown) => {
      if (isBerthError(e, 'not-found')) return undefined;
      throw e;
    });
    if (state?.status === 'paused') await this.#runtime.resume(id, signal);
    if (state !== undefined && timeoutSeconds > 0) {
      await this.#ignoreNotRunning(this.#runtime.kill(id, signalArgument(stopSignal), false, signal));
      const exited = await this.#waitExitFor(id, timeoutSeconds * 1000, signal);
      if (exited) return exited;
      this.#log.info({ id, timeoutSeconds }, 'container did not stop in its grace period; killing it');
    }
    if (state !== undefined) await this.#ignoreNotRunning(this.#runtime.kill(id, 'KILL', true, signal));
    return this.waitExit(id, signal);
  }

  async #ignoreNotRunning(p: Promise<void>): Promise<void> {
    try {
      await p;
    } catch (e) {
      if (isBerthError(e, 'failed-precondition') || isBerthError(e, 'not-found')) return;
      throw e;
    }
  }

  // ---------------------------------------------------------------- exits

  async readExit(id: string, signal?: AbortSignal): Promise<ExitStatus | undefined> {
    throwIfAborted(signal);
    const meta = await this.#meta(id);
    const found = await this.#readExitFile(meta);
    if (found) return found;
    if (await isProcessAlive(meta.conmonPid, meta.conmonStartTime)) return undefined;
    // conmon writes the exit file before it exits: look once more, then the exit is lost.
    return (await this.#readExitFile(meta)) ?? this.#markMonitorLost(meta);
  }

  async #readExitFile(meta: ContainerMeta): Promise<ExitStatus | undefined> {
    // The first reading is the answer: conmon may touch the file again, moving its ctime.
    const seen = this.#exits.get(meta.id);
    if (seen) return seen;
    const layout = this.#layout;
    for (const file of [layout.exitFile(meta.id), layout.persistExitFile(meta.id)]) {
      const code = await readIntFile(file);
      if (code === undefined) continue;
      const st = await stat(file);
      const [oomFile, monitorLost] = await Promise.all([exists(layout.oomFile(meta.id)), exists(layout.monitorLostFile(meta.id))]);
      let oomKilled = oomFile;
      if (!oomKilled && meta.cgroupsPath && !meta.cgroupsPath.includes(':')) {
        const cgroups = await this.#cgroupLayout();
        const count = cgroups ? await readOomKillCount(cgroups, meta.cgroupsPath).catch(() => undefined) : undefined;
        oomKilled = (count ?? 0) > 0;
      }
      const exit: ExitStatus = {
        exitCode: code,
        exitedAt: Math.round(st.ctimeMs),
        oomKilled,
        reason: monitorLost ? 'monitor-lost' : 'exited',
      };
      this.#exits.set(meta.id, exit);
      return exit;
    }
    return undefined;
  }

  /**
   * conmon died without recording an exit (killed, crashed). Nobody reads the container's output
   * or will record its end any more, so kill what is left of it and record 255, as the kubelet
   * expects of a container whose exit is unknown.
   */
  async #markMonitorLost(meta: ContainerMeta): Promise<ExitStatus> {
    const { id } = meta;
    this.#log.warn({ id, conmonPid: meta.conmonPid }, 'conmon is gone without an exit file; reporting the container exited (255)');
    try {
      await this.#runtime.kill(id, 'KILL', true);
    } catch {
      // not running any more, or unknown to the runtime: nothing left to kill
    }
    if (await isProcessAlive(meta.pid, meta.pidStartTime)) signalProcess(meta.pid, 'SIGKILL');
    const now = Date.now();
    await writeFileAtomic(this.#layout.monitorLostFile(id), `${new Date(now).toISOString()}\n`);
    await writeFileAtomic(this.#layout.exitFile(id), String(UNKNOWN_EXIT_CODE));
    return (await this.#readExitFile(meta)) ?? { exitCode: UNKNOWN_EXIT_CODE, exitedAt: now, oomKilled: false, reason: 'monitor-lost' };
  }

  async waitExit(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    const exit = await this.#waitExitFor(id, Number.POSITIVE_INFINITY, signal);
    return exit!;
  }

  /** The exit once recorded, or undefined when `timeoutMs` passed first. Woken by the exit dir's inotify events. */
  async #waitExitFor(id: string, timeoutMs: number, signal?: AbortSignal): Promise<ExitStatus | undefined> {
    await this.#meta(id);
    const deadline = performance.now() + timeoutMs;
    let changed = false;
    let wake: (() => void) | undefined;
    // Any change in the exit dir is a reason to look (conmon writes `<id>.XXXXXX`, then renames it to `<id>`).
    const watcher = watch(this.#layout.exitsDir, () => {
      changed = true;
      wake?.();
    });
    watcher.on('error', () => {});
    try {
      for (;;) {
        changed = false;
        const exit = await this.readExit(id, signal);
        if (exit) return exit;
        const left = deadline - performance.now();
        if (left <= 0) return undefined;
        if (changed) continue;
        await new Promise<void>((resolve, reject) => {
          const done = (): void => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            wake = undefined;
            resolve();
          };
          const onAbort = (): void => {
            done();
            reject(toBerthError(signal!.reason));
          };
          const timer = setTimeout(done, Math.min(EXIT_POLL_MS, left));
          wake = done;
          if (signal?.aborted) onAbort();
          else signal?.addEventListener('abort', onAbort, { once: true });
        });
      }
    } finally {
      watcher.close();
    }
  }

  // ---------------------------------------------------------------- delete

  async delete(id: string, options: DeleteOptions = {}, signal?: AbortSignal): Promise<void> {
    checkContainerId(id);
    this.#exits.delete(id);
    await this.#locks.run(id, async () => {
      throwIfAborted(signal);
      const meta = await this.#meta(id).catch((e: unknown) => {
        if (isBerthError(e, 'not-found')) return undefined;
        throw e;
      });
      const force = options.force ?? false;
      try {
        await this.#runtime.delete(id, force, signal);
      } catch (e) {
        if (!isBerthError(e, 'not-found')) throw e;
      }
      // From here on this is cleanup: it finishes even if the signal fires.
      if (meta) {
        await this.#waitConmonGone(meta.conmonPid, meta.conmonStartTime, CONMON_EXIT_WAIT_MS);
        await this.#removeLeftoverCgroup(id, meta.cgroupsPath, false);
      } else {
        await this.#killAndDelete(id);
      }
      await this.#removeFiles(id, meta?.bundle ?? (await this.#bundleFromAttachLink(id)));
      this.#metas.delete(id);
    });
  }

  /**
   * `<runtime> delete` removes the container's cgroup; this catches what it could not (a runtime
   * killed halfway). With `killProcesses`, processes still in it are killed first. Best effort.
   */
  async #removeLeftoverCgroup(id: string, cgroupsPath: string | undefined, killProcesses: boolean): Promise<void> {
    if (!cgroupsPath || cgroupsPath.includes(':')) return; // systemd-style paths are not ours to rmdir
    const cgroups = await this.#cgroupLayout();
    if (!cgroups || !(await cgroupExists(cgroups, cgroupsPath))) return;
    // A runtime process killed a moment ago may still join or linger in the cgroup: kill and retry for a while.
    const attempts = killProcesses ? 40 : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        if (killProcesses) await killCgroupProcesses(cgroups, cgroupsPath);
        await removeCgroup(cgroups, cgroupsPath);
        return;
      } catch (e) {
        if (attempt < attempts && isBerthError(e, 'failed-precondition')) {
          await sleep(25);
          continue;
        }
        this.#log.warn({ id, cgroupsPath, err: e }, 'cannot remove the container cgroup');
        return;
      }
    }
  }

  /** Waits for conmon to exit; SIGKILLs it after `ms`. */
  async #waitConmonGone(pid: number, startTime: string | undefined, ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    while (await isProcessAlive(pid, startTime)) {
      if (performance.now() > deadline) {
        this.#log.warn({ conmonPid: pid }, 'conmon did not exit after its container was deleted; killing it');
        signalProcess(pid, 'SIGKILL');
        await sleep(20);
        return;
      }
      await sleep(20);
    }
  }

  /** Undo of create and cleanup of a half-created container: kill conmon, force-delete from the runtime. */
  async #killAndDelete(id: string): Promise<void> {
    const conmonPid = await readIntFile(this.#layout.conmonPidFile(id)).catch(() => undefined);
    if (conmonPid !== undefined && (await isProcessAlive(conmonPid))) {
      // conmon with whatever it started (a runtime still creating, the container's init): stop all, then kill.
      const pids = await killProcessTree(conmonPid);
      const deadline = performance.now() + 2000;
      for (const pid of pids) {
        while ((await isProcessAlive(pid)) && performance.now() < deadline) await sleep(10);
      }
    }
    try {
      await this.#runtime.delete(id, true);
    } catch (e) {
      if (!isBerthError(e, 'not-found')) this.#log.warn({ id, err: e }, 'runtime delete --force failed');
    }
  }

  /** conmon's attach links of `id` (under the full ID or the prefix conmon shortened it to), with their targets. */
  async #attachLinks(id: string, bundle?: string): Promise<{ link: string; target: string }[]> {
    const out: { link: string; target: string }[] = [];
    for (const link of await this.#layout.attachLinkCandidates(id)) {
      const target = await readlink(link).catch(() => undefined);
      if (target === undefined) continue;
      const ours = path.basename(link) === id || target === bundle || path.basename(target) === id;
      if (ours) out.push({ link, target });
    }
    return out;
  }

  async #bundleFromAttachLink(id: string): Promise<string | undefined> {
    return (await this.#attachLinks(id))[0]?.target;
  }

  /** Removes every file of the container: its dir, exit file, attach link, and conmon's fifos and socket in the bundle. */
  async #removeFiles(id: string, bundle: string | undefined): Promise<void> {
    const layout = this.#layout;
    await rm(layout.containerDir(id), { recursive: true, force: true });
    await rm(layout.exitFile(id), { force: true });
    for (const { link } of await this.#attachLinks(id, bundle)) await rm(link, { force: true });
    if (bundle) {
      for (const file of layout.bundleFiles(bundle)) {
        const st = await lstat(file).catch(() => undefined);
        if (st && (st.isFIFO() || st.isSocket())) await rm(file, { force: true });
      }
    }
  }

  // ---------------------------------------------------------------- logs and exec

  async reopenLog(id: string, signal?: AbortSignal): Promise<void> {
    const meta = await this.#meta(id);
    const notRunning = (cause?: unknown): BerthError =>
      failedPrecondition('container-not-running', `container ${id} has no running monitor to reopen its log`, { cause, fields: { id } });
    // conmon stays a moment after it recorded the exit; it would not act on the message any more.
    if ((await this.#readExitFile(meta)) !== undefined) throw notRunning();
    const before = await stat(meta.logPath).catch(() => undefined);
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      // Non-blocking: with no reader (conmon gone) this fails with ENXIO instead of hanging.
      fh = await open(path.join(meta.bundle, 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENXIO' || code === 'ENOENT') throw notRunning(e);
      throw e;
    }
    try {
      // conmon's control message: "<type> <height> <width>\n"; type 2 reopens the log files.
      await fh.write('2 0 0\n');
    } finally {
      await fh.close();
    }
    const deadline = performance.now() + REOPEN_WAIT_MS;
    for (;;) {
      const now = await stat(meta.logPath).catch(() => undefined);
      if (now && (before === undefined || now.ino !== before.ino)) return;
      if (!(await isProcessAlive(meta.conmonPid, meta.conmonStartTime))) throw notRunning();
      if (performance.now() > deadline) {
        throw internal('log-reopen-timeout', `conmon did not reopen the log of container ${id} within ${REOPEN_WAIT_MS / 1000} s`, {
          fields: { id, logPath: meta.logPath },
        });
      }
      await sleep(10, signal);
    }
  }

  async execSync(id: string, options: ExecSyncOptions, signal?: AbortSignal): Promise<ExecSyncResult> {
    const meta = await this.#meta(id);
    if (options.cmd.length === 0) throw invalidArgument('exec-command-empty', 'the command to execute is empty', { fields: { id } });
    const state = await this.#runtime.state(id, signal);
    if (state.status !== 'running') {
      throw failedPrecondition('container-not-running', `container ${id} is ${state.status}, not running`, {
        fields: { id, status: state.status },
      });
    }
    const config = await readBundleConfig(meta.bundle);
    if (!config.process)
      throw failedPrecondition('bundle-without-process', `the bundle of container ${id} has no process`, { fields: { id } });
    return execSync({ runtime: this.#runtime, id, process: config.process, workDir: this.#layout.containerDir(id) }, options, signal);
  }

  // ---------------------------------------------------------------- recovery

  /** Warns about (or refuses) a runc without the known container-escape fixes. */
  async #checkVersion(): Promise<void> {
    if (this.#runtime.name !== 'runc') return;
    const v = await readRuncVersion(this.#runtime.path);
    if (v === undefined) return; // a missing binary fails on first use, with its own error
    const missing = missingFixes(v);
    if (missing.length === 0) return;
    const message = `runc ${v.version ?? '(unknown version)'} (${v.commit}) lacks the fixes of ${missing.join(', ')}: a container may escape to the host; upgrade runc`;
    if (this.#vulnerableRuntime === 'refuse') {
      throw failedPrecondition('runtime-vulnerable', message, { fields: { version: v.version, commit: v.commit, missing } });
    }
    this.#log.warn({ version: v.version, commit: v.commit, missing }, message);
  }

  async recover(signal?: AbortSignal): Promise<RecoverResult> {
    await this.#checkVersion();
    const layout = this.#layout;
    await Promise.all([layout.containersDir, layout.exitsDir, layout.attachDir].map((d) => mkdir(d, { recursive: true, mode: 0o700 })));
    this.#metas.clear();
    const containers: RecoveredContainer[] = [];
    const discarded: string[] = [];
    const ids = (await readdir(layout.containersDir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    for (const id of ids) {
      throwIfAborted(signal);
      const meta = await layout.readMeta(id).catch(() => undefined);
      if (meta === undefined) {
        // The daemon died inside create(): nothing was handed out for this container; undo it.
        this.#log.info({ id }, 'removing a container whose create never finished');
        const bundle = await this.#bundleFromAttachLink(id);
        const config = bundle ? await readBundleConfig(bundle).catch(() => undefined) : undefined;
        await this.#killAndDelete(id);
        await this.#removeLeftoverCgroup(id, config?.linux?.cgroupsPath, true);
        await this.#removeFiles(id, bundle);
        discarded.push(id);
        continue;
      }
      this.#metas.set(id, meta);
      const exit = await this.readExit(id);
      if (exit) {
        containers.push({ id, bundle: meta.bundle, logPath: meta.logPath, status: 'stopped', pid: 0, conmonPid: meta.conmonPid, exit });
        continue;
      }
      const state = await this.#runtime.state(id).catch((e: unknown) => {
        if (isBerthError(e, 'not-found')) return undefined;
        throw e;
      });
      containers.push({
        id,
        bundle: meta.bundle,
        logPath: meta.logPath,
        status: state?.status ?? 'running',
        pid: state?.pid || meta.pid,
        conmonPid: meta.conmonPid,
      });
    }
    // Exit files and attach links whose container directory is gone are leftovers of a delete.
    const known = new Set(ids);
    for (const dir of [layout.exitsDir, layout.attachDir]) {
      for (const name of await readdir(dir)) {
        // conmon may have named an attach link after a prefix of the ID.
        const live = known.has(name) || (dir === layout.attachDir && ids.some((id) => id.startsWith(name)));
        if (!live && !name.startsWith('.')) await rm(path.join(dir, name), { force: true, recursive: false }).catch(() => {});
      }
    }
    return { containers, discarded };
  }

  // ---------------------------------------------------------------- helpers

  async #meta(id: string): Promise<ContainerMeta> {
    checkContainerId(id);
    const cached = this.#metas.get(id);
    if (cached) return cached;
    const meta = await this.#layout.readMeta(id);
    if (meta === undefined) throw notFound('container-not-found', `no container ${id}`, { fields: { id } });
    this.#metas.set(id, meta);
    return meta;
  }

  #cgroupLayout(): Promise<CgroupLayout | undefined> {
    this.#cgroups ??= detectCgroupLayout().catch((e: unknown) => {
      this.#log.warn({ err: e }, 'cannot read the cgroup mounts');
      return undefined;
    });
    return this.#cgroups;
  }
}
