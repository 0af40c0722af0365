// The files ConmonRuntime keeps under its state directory, enough to find every container again
// after the daemon was killed:
//
//   <state>/containers/<id>/meta.json     what create() learned (bundle, log, pids, start times)
//   <state>/containers/<id>/conmon.pid    written by conmon (-P)
//   <state>/containers/<id>/pidfile       the container's init pid, written by the runtime (-p)
//   <state>/containers/<id>/exit, oom     written by conmon (--persist-dir, and its cwd for oom)
//   <state>/containers/<id>/runtime.log   the runtime's own log (`--log`, JSON)
//   <state>/containers/<id>/monitor-lost  written by us when conmon died without recording an exit
//   <state>/exits/<id>                    the exit code, written by conmon (--exit-dir)
//   <state>/attach/<id>                   conmon's symlink to the bundle (--socket-dir-path)
//
// conmon also puts `ctl` and `winsz` fifos and the `attach` socket in the bundle directory.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument } from '../../errors/errors.ts';
import { writeFileAtomic } from '../../util/atomic-file.ts';

export interface ContainerMeta {
  id: string;
  bundle: string;
  logPath: string;
  tty: boolean;
  /** ms since the epoch. */
  createdAt: number;
  pid: number;
  /** /proc start time of the init process, to tell it from a process that reused its PID. */
  pidStartTime?: string;
  conmonPid: number;
  conmonStartTime?: string;
  /** linux.cgroupsPath of the bundle's config, for the OOM counter and cleanup. */
  cgroupsPath?: string;
}

/** runc's rule for IDs, kept short enough for socket paths. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$/;

export function checkContainerId(id: string): void {
  if (!ID_RE.test(id)) {
    throw invalidArgument('invalid-container-id', `invalid container ID ${JSON.stringify(id)}: use 1-128 letters, digits, _ . + -`, {
      fields: { id },
    });
  }
}

export class StateLayout {
  readonly root: string;
  readonly containersDir: string;
  readonly exitsDir: string;
  readonly attachDir: string;

  constructor(stateDir: string) {
    this.root = path.resolve(stateDir);
    this.containersDir = path.join(this.root, 'containers');
    this.exitsDir = path.join(this.root, 'exits');
    this.attachDir = path.join(this.root, 'attach');
  }

  containerDir(id: string): string {
    return path.join(this.containersDir, id);
  }
  metaFile(id: string): string {
    return path.join(this.containerDir(id), 'meta.json');
  }
  conmonPidFile(id: string): string {
    return path.join(this.containerDir(id), 'conmon.pid');
  }
  pidFile(id: string): string {
    return path.join(this.containerDir(id), 'pidfile');
  }
  runtimeLog(id: string): string {
    return path.join(this.containerDir(id), 'runtime.log');
  }
  persistExitFile(id: string): string {
    return path.join(this.containerDir(id), 'exit');
  }
  oomFile(id: string): string {
    return path.join(this.containerDir(id), 'oom');
  }
  monitorLostFile(id: string): string {
    return path.join(this.containerDir(id), 'monitor-lost');
  }
  exitFile(id: string): string {
    return path.join(this.exitsDir, id);
  }
  attachLink(id: string): string {
    return path.join(this.attachDir, id);
  }
  /**
   * The attach links conmon may have made for `id`: conmon shortens the name (to a prefix of the
   * ID) when the socket path would not fit a unix socket address, so every link whose name is a
   * prefix of the ID is a candidate; the caller checks where it points.
   */
  async attachLinkCandidates(id: string): Promise<string[]> {
    const names = await readdir(this.attachDir).catch(() => [] as string[]);
    return names.filter((n) => n !== '' && !n.startsWith('.') && id.startsWith(n)).map((n) => path.join(this.attachDir, n));
  }
  /** What conmon creates inside the bundle. */
  bundleFiles(bundle: string): string[] {
    return ['ctl', 'winsz', 'attach'].map((name) => path.join(bundle, name));
  }

  async readMeta(id: string): Promise<ContainerMeta | undefined> {
    try {
      return JSON.parse(await readFile(this.metaFile(id), 'utf8')) as ContainerMeta;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async writeMeta(meta: ContainerMeta): Promise<void> {
    await writeFileAtomic(this.metaFile(meta.id), JSON.stringify(meta, null, 2), 0o600);
  }
}

/** Reads a file holding one integer (pid files, exit files); undefined when missing or not yet written. */
export async function readIntFile(file: string): Promise<number | undefined> {
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (!/^-?\d+$/.test(text)) return undefined;
    return Number(text);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
