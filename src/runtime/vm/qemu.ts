// One pod's light VM: QEMU's microvm with Debian's kernel and berth's initramfs
// (scripts/install-vm-guest.sh), a virtio-serial port to the guest agent and a 9p share of a host
// directory. QEMU daemonizes, so it outlives the daemon as conmon does; its state directory (pid
// file, agent socket, console log) is enough to find it again (`QemuVm.attach`).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { deadlineExceeded, failedPrecondition, internal, invalidArgument, isBerthError, unavailable } from '../../errors/errors.ts';
import { throwIfAborted } from '../../util/abortable.ts';
import { errnoCode } from '../../util/errno.ts';
import { sleep } from '../../util/sleep.ts';
import { AgentClient } from './agent-client.ts';

export const DEFAULT_GUEST_DIR = '/var/lib/berth/vm';
/** The guest's mount of the share (its 9p tag is `berthshare`). */
export const GUEST_SHARE = '/share';
const SHARE_TAG = 'berthshare';

export type Accelerator = 'kvm' | 'tcg';

export interface VmGuest {
  kernel: string;
  initramfs: string;
}

/** The guest that install-vm-guest.sh made current in `dir`. */
export function guestFromDir(dir: string = DEFAULT_GUEST_DIR): VmGuest {
  return { kernel: join(dir, 'current', 'vmlinux'), initramfs: join(dir, 'current', 'initramfs.img') };
}

export interface VmStartOptions {
  /** The VM's own directory on the host: qemu.pid, agent.sock, console.log. */
  stateDir: string;
  /** The host directory the guest mounts on /share (container bundles, their output). */
  shareDir: string;
  guest: VmGuest;
  memoryMiB?: number;
  cpus?: number;
  /** `auto` probes KVM once per guest and falls back to TCG. */
  accel?: Accelerator | 'auto';
  bootTimeoutMs?: number;
  qemuBinary?: string;
  signal?: AbortSignal;
}

interface VmPaths {
  pidFile: string;
  socketPath: string;
  consoleLog: string;
}

function pathsOf(stateDir: string): VmPaths {
  return { pidFile: join(stateDir, 'qemu.pid'), socketPath: join(stateDir, 'agent.sock'), consoleLog: join(stateDir, 'console.log') };
}

export class QemuVm {
  readonly stateDir: string;
  readonly pid: number;
  readonly accel: Accelerator | undefined;
  readonly agent: AgentClient;
  readonly paths: VmPaths;
  #bootMs: number | undefined;

  private constructor(stateDir: string, pid: number, accel: Accelerator | undefined) {
    this.stateDir = stateDir;
    this.pid = pid;
    this.accel = accel;
    this.paths = pathsOf(stateDir);
    this.agent = new AgentClient(this.paths.socketPath);
  }

  /** Boots the VM and waits for its agent; on any failure QEMU and its files are gone. */
  static async start(options: VmStartOptions): Promise<QemuVm> {
    const { stateDir, guest, signal } = options;
    const qemu = options.qemuBinary ?? 'qemu-system-x86_64';
    for (const file of [guest.kernel, guest.initramfs]) {
      if (!existsSync(file)) throw failedPrecondition('vm-guest-missing', `VM guest file ${file} does not exist`, { fields: { file } });
    }
    const st = await stat(options.shareDir).catch(() => undefined);
    if (!st?.isDirectory()) throw invalidArgument('vm-bad-request', `share ${options.shareDir} is not a directory`);
    const accel = options.accel === undefined || options.accel === 'auto' ? await probeAccelerator(guest, qemu, signal) : options.accel;
    await mkdir(stateDir, { recursive: true });
    const paths = pathsOf(stateDir);
    await removeFiles(paths);
    const began = performance.now();
    const args = qemuArgs(options, accel, paths);
    const undo = async (): Promise<void> => {
      const pid = await readPid(paths.pidFile);
      if (pid !== undefined) await killAndWait(pid, paths.socketPath);
      await removeFiles(paths, stateDir);
    };
    // No signal for the daemonizing QEMU: killing it mid-way would orphan the VM it forked. It
    // returns within moments; an abort is honoured right after.
    const { code, stderr } = await runQemu(qemu, args, undefined).catch(async (e: unknown) => {
      await undo();
      throw e;
    });
    if (signal?.aborted) {
      await undo();
      throwIfAborted(signal);
    }
    const pid = await readPid(paths.pidFile);
    if (code !== 0 || pid === undefined) {
      await undo();
      throw unavailable('vm-boot-failed', `QEMU could not start the VM (exit ${code}): ${stderr.trim()}`, { fields: { exitCode: code } });
    }
    const vm = new QemuVm(stateDir, pid, accel);
    try {
      await vm.#waitForAgent(options.bootTimeoutMs ?? 60_000, signal);
    } catch (e) {
      await vm.stop();
      throw e;
    }
    vm.#bootMs = Math.round(performance.now() - began);
    return vm;
  }

  /** The VM a previous daemon started in `stateDir`, if its QEMU still runs. */
  static async attach(stateDir: string): Promise<QemuVm | undefined> {
    const paths = pathsOf(stateDir);
    const pid = await readPid(paths.pidFile);
    if (pid === undefined || !isQemuOf(pid, paths.socketPath)) return undefined;
    return new QemuVm(stateDir, pid, undefined);
  }

  /** Milliseconds from spawning QEMU to the agent's first answer (undefined for an attached VM). */
  get bootMs(): number | undefined {
    return this.#bootMs;
  }

  isRunning(): boolean {
    return isQemuOf(this.pid, this.paths.socketPath);
  }

  /** Kills QEMU (TERM, then KILL after `graceMs`) and removes its files and, when empty, its state directory. */
  async stop(graceMs = 3000): Promise<void> {
    this.agent.disconnect();
    await killAndWait(this.pid, this.paths.socketPath, graceMs);
    await removeFiles(this.paths, this.stateDir);
  }

  /**
   * Asks the guest to power off (it syncs first), waits up to `graceMs`, then stops as `stop` does.
   * Says whether the guest went by itself or had to be killed.
   */
  async shutdown(graceMs = 5000): Promise<'powered-off' | 'killed'> {
    try {
      await this.agent.request('shutdown', {}, { timeoutMs: graceMs });
      const until = performance.now() + graceMs;
      while (this.isRunning() && performance.now() < until) await sleep(20);
    } catch (e) {
      if (!isBerthError(e)) throw e; // no agent to ask: stop kills it
    }
    const how = this.isRunning() ? 'killed' : 'powered-off';
    await this.stop();
    return how;
  }

  async consoleText(): Promise<string> {
    return readFile(this.paths.consoleLog, 'utf8').catch(() => '');
  }

  async #waitForAgent(timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      throwIfAborted(signal);
      if (!this.isRunning()) {
        const tail = (await this.consoleText()).slice(-800);
        throw unavailable('vm-boot-failed', `the VM stopped before its agent answered; console:\n${tail}`, { fields: { pid: this.pid } });
      }
      const left = deadline - performance.now();
      if (left <= 0) throw deadlineExceeded('vm-boot-timeout', `the VM agent did not answer within ${timeoutMs} ms`);
      try {
        // Pings sent before the agent opened its port queue up; it answers them all, the client keeps the last.
        await this.agent.ping({ timeoutMs: Math.min(1000, left), signal });
        return;
      } catch (e) {
        if (!isBerthError(e) || (e.code !== 'vm-agent-timeout' && e.code !== 'vm-agent-unavailable')) throw e;
        if (e.code === 'vm-agent-unavailable') await sleep(50, signal);
      }
    }
  }
}

function qemuArgs(options: VmStartOptions, accel: Accelerator, paths: VmPaths): string[] {
  return [
    ...machineArgs(accel, options.guest, options.memoryMiB ?? 256, options.cpus ?? 1),
    ...['-serial', `file:${paths.consoleLog}`, '-pidfile', paths.pidFile, '-daemonize'],
    ...['-append', kernelCommandLine(`berth.share=${SHARE_TAG}`)],
    ...['-device', 'virtio-serial-device'],
    ...['-chardev', `socket,path=${paths.socketPath},server=on,wait=off,id=agent`],
    ...['-device', 'virtserialport,chardev=agent,name=berth.agent'],
    ...['-fsdev', `local,id=share,path=${options.shareDir},security_model=passthrough`],
    ...['-device', `virtio-9p-device,fsdev=share,mount_tag=${SHARE_TAG}`],
  ];
}

function machineArgs(accel: Accelerator, guest: VmGuest, memoryMiB: number, cpus: number): string[] {
  return [
    ...['-M', 'microvm', '-accel', accel === 'tcg' ? 'tcg,tb-size=64' : 'kvm', '-cpu', accel === 'kvm' ? 'host' : 'max'],
    ...['-m', `${memoryMiB}M`, '-smp', String(cpus)],
    ...['-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot'],
    ...['-kernel', guest.kernel, '-initrd', guest.initramfs],
  ];
}

// panic=-1 and reboot=t turn a panic or a reboot into a reset, which -no-reboot turns into QEMU's
// exit. tsc_early_khz: under TCG on a busy host the kernel's PIT calibration of the TSC can fail,
// and the boot then hangs; the guest's TSC runs at the host's rate, so give it that.
function kernelCommandLine(extra: string): string {
  const khz = hostTscKhz();
  return ['console=ttyS0', 'loglevel=1', 'panic=-1', 'reboot=t', ...(khz ? [`tsc_early_khz=${khz}`] : []), extra].join(' ');
}

let tscKhz: number | undefined | null = null;
function hostTscKhz(): number | undefined {
  if (tscKhz !== null) return tscKhz;
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  tscKhz = mhz ? Math.round(Number(mhz[1]) * 1000) : undefined;
  return tscKhz;
}

const probed = new Map<string, Promise<Accelerator>>();

/**
 * KVM if a guest really runs under it: /dev/kvm existing is not enough (on some hosts QEMU under KVM
 * aborts or hangs), so boot the guest with `berth.probe=1`, which powers off as soon as init runs.
 * Once per kernel per process.
 */
export function probeAccelerator(guest: VmGuest, qemu = 'qemu-system-x86_64', signal?: AbortSignal): Promise<Accelerator> {
  let result = probed.get(guest.kernel);
  if (result === undefined) {
    result = probeKvm(guest, qemu, signal);
    probed.set(guest.kernel, result);
    result.catch(() => probed.delete(guest.kernel));
  }
  return result;
}

async function probeKvm(guest: VmGuest, qemu: string, signal: AbortSignal | undefined): Promise<Accelerator> {
  if (!existsSync('/dev/kvm')) return 'tcg';
  const probeSignal = AbortSignal.any([AbortSignal.timeout(10_000), ...(signal ? [signal] : [])]);
  const args = [...machineArgs('kvm', guest, 128, 1), '-serial', 'stdio', '-append', kernelCommandLine('berth.probe=1')];
  try {
    const { code, stdout } = await runQemu(qemu, args, probeSignal);
    return code === 0 && stdout.includes('berth: probe ok') ? 'kvm' : 'tcg';
  } catch (e) {
    if (signal?.aborted) throw e;
    return 'tcg';
  }
}

function runQemu(qemu: string, args: string[], signal: AbortSignal | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(qemu, args, { stdio: ['ignore', 'pipe', 'pipe'], signal, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', (e) => {
      if (errnoCode(e) === 'ENOENT') reject(failedPrecondition('vm-qemu-missing', `${qemu} is not installed`, { cause: e }));
      else reject(unavailable('vm-boot-failed', `cannot run ${qemu}: ${e.message}`, { cause: e }));
    });
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

async function readPid(pidFile: string): Promise<number | undefined> {
  const text = await readFile(pidFile, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** `pid` is a live (not zombie) QEMU of this VM: its command line names the VM's socket. */
function isQemuOf(pid: number, socketPath: string): boolean {
  try {
    if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return false;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`path=${socketPath},`);
  } catch {
    return false;
  }
}

async function killAndWait(pid: number, socketPath: string, graceMs = 3000): Promise<void> {
  for (const [sig, waitMs] of [
    ['SIGTERM', graceMs],
    ['SIGKILL', 5000],
  ] as const) {
    if (!isQemuOf(pid, socketPath)) return;
    try {
      process.kill(pid, sig);
    } catch (e) {
      if (errnoCode(e) === 'ESRCH') return;
      throw e;
    }
    const until = performance.now() + waitMs;
    while (isQemuOf(pid, socketPath) && performance.now() < until) await sleep(20);
  }
  if (isQemuOf(pid, socketPath)) throw internal('internal', `QEMU ${pid} survived SIGKILL`);
}

async function removeFiles(paths: VmPaths, stateDir?: string): Promise<void> {
  await Promise.all([paths.pidFile, paths.socketPath, paths.consoleLog].map((f) => rm(f, { force: true })));
  if (stateDir !== undefined) await rmdir(stateDir).catch(() => {}); // the caller's files stay
}
