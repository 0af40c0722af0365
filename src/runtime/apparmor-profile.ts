// The default AppArmor profile, `berth-default`, made and loaded as containerd makes and loads its
// own (contrib/apparmor): the same rules (network, capabilities and files allowed; writes to /proc
// and /sys outside the process's own entries, mount and the kernel's security files denied; signals
// and ptrace only within the profile, from unconfined processes and from the daemon), includes of
// the distribution's tunables and base abstraction when /etc/apparmor.d has them, loaded with
// `apparmor_parser -Kr` (Debian's apparmor package) once, before the first container that needs it.
import { spawn } from 'node:child_process';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { failedPrecondition } from '../errors/errors.ts';
import type { Logger } from '../util/logger.ts';

export interface ProfileData {
  name: string;
  /** Before the profile: the tunables, or @{PROC} set by hand without them. */
  imports: string[];
  /** Inside the profile: the base abstraction when there is one. */
  innerImports: string[];
  /** The daemon's own profile, whose signals the containers receive. */
  daemonProfile: string;
}

export function renderProfile(p: ProfileData): string {
  return `${p.imports.join('\n')}

profile ${p.name} flags=(attach_disconnected,mediate_deleted) {
${p.innerImports.map((i) => `  ${i}\n`).join('')}
  network,
  capability,
  file,
  umount,
  # Host (privileged) processes may send signals to container processes.
  signal (receive) peer=unconfined,
  # The daemon may send signals to container processes.
  signal (receive) peer=${p.daemonProfile},
  # Container processes may send signals amongst themselves.
  signal (send,receive) peer=${p.name},

  deny @{PROC}/* w,   # no writes to files directly in /proc (not in a subdirectory)
  # no writes outside /proc/<number>/** and /proc/sys/**
  deny @{PROC}/{[^1-9],[^1-9][^0-9],[^1-9s][^0-9y][^0-9s],[^1-9][^0-9][^0-9][^0-9]*}/** w,
  deny @{PROC}/sys/[^k]** w,  # /proc/sys except /proc/sys/k* (in effect /proc/sys/kernel)
  deny @{PROC}/sys/kernel/{?,??,[^s][^h][^m]**} w,  # everything in /proc/sys/kernel but shm*
  deny @{PROC}/sysrq-trigger rwklx,
  deny @{PROC}/mem rwklx,
  deny @{PROC}/kmem rwklx,
  deny @{PROC}/kcore rwklx,

  deny mount,

  deny /sys/[^f]*/** wklx,
  deny /sys/f[^s]*/** wklx,
  deny /sys/fs/[^c]*/** wklx,
  deny /sys/fs/c[^g]*/** wklx,
  deny /sys/fs/cg[^r]*/** wklx,
  deny /sys/firmware/** rwklx,
  deny /sys/kernel/security/** rwklx,

  # Processes of the container may trace each other, where the other LSMs and yama allow it.
  ptrace (trace,tracedby,read,readby) peer=${p.name},
}
`;
}

/** `unconfined`, or the daemon's profile without its mode (" (enforce)"). */
export function cleanProfileName(current: string): string {
  const name = current.replace(/\0/g, '').trim().split(' ')[0] ?? '';
  return name === '' ? 'unconfined' : name;
}

const exists = (file: string) =>
  access(file).then(
    () => true,
    () => false,
  );

/** The profile's data on this host: the includes that /etc/apparmor.d (or `apparmorDir`) has, the daemon's own profile. */
export async function profileData(name: string, apparmorDir = '/etc/apparmor.d'): Promise<ProfileData> {
  const tunables = await exists(path.join(apparmorDir, 'tunables', 'global'));
  const base = await exists(path.join(apparmorDir, 'abstractions', 'base'));
  const current = await readFile('/proc/self/attr/current', 'utf8').catch(() => '');
  return {
    name,
    imports: [tunables ? '#include <tunables/global>' : '@{PROC}=/proc/'],
    innerImports: base ? ['#include <abstractions/base>'] : [],
    daemonProfile: cleanProfileName(current),
  };
}

/** Runs apparmor_parser with `args` on the profile text (on its stdin); rejects with its output. */
export function runParser(text: string, args: string[], options: { parser?: string; signal?: AbortSignal } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.parser ?? 'apparmor_parser', args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      ...(options.signal ? { signal: options.signal } : {}),
    });
    let output = '';
    const keep = (d: Buffer) => {
      if (output.length < 8192) output += d.toString('utf8');
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code, sig) => {
      if (code === 0) resolve();
      else
        reject(
          failedPrecondition('apparmor-profile-load', `apparmor_parser ${args.join(' ')} ${sig ?? `exited ${code}`}: ${output.trim()}`),
        );
    });
    child.stdin.on('error', () => {});
    child.stdin.end(text);
  });
}

/** Whether the kernel has a profile of that name loaded. */
export async function isProfileLoaded(name: string, profilesFile = '/sys/kernel/security/apparmor/profiles'): Promise<boolean> {
  const text = await readFile(profilesFile, 'utf8').catch(() => '');
  return text.split('\n').some((line) => line.startsWith(`${name} `));
}

export interface AppArmorProfileLoaderOptions {
  name: string;
  logger: Logger;
  /** Default `apparmor_parser` on the PATH. */
  parser?: string;
  /** Default `-Kr` (replace, no cache), as containerd loads. */
  loadArgs?: string[];
  apparmorDir?: string;
  profilesFile?: string;
}

/** Loads the default profile into the kernel once (again after a failure); later calls wait for the first. */
export class AppArmorProfileLoader {
  readonly #o: AppArmorProfileLoaderOptions;
  #loading: Promise<void> | undefined;

  constructor(options: AppArmorProfileLoaderOptions) {
    this.#o = options;
  }

  ensureLoaded(): Promise<void> {
    this.#loading ??= this.#load().catch((e: unknown) => {
      this.#loading = undefined;
      throw e;
    });
    return this.#loading;
  }

  async #load(): Promise<void> {
    const { name, logger } = this.#o;
    if (await isProfileLoaded(name, this.#o.profilesFile)) return;
    try {
      const text = renderProfile(await profileData(name, this.#o.apparmorDir));
      await runParser(text, this.#o.loadArgs ?? ['-Kr'], { parser: this.#o.parser });
    } catch (e) {
      const reason =
        (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'apparmor_parser is not installed (Debian: apparmor)' : (e as Error).message;
      throw failedPrecondition('apparmor-profile-load', `cannot load the AppArmor profile ${name}: ${reason}`, {
        cause: e,
        fields: { profile: name },
      });
    }
    logger.info({ profile: name }, 'loaded the default AppArmor profile');
  }
}
