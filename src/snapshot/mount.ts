// Applies Mount[] (as snapshotters return them) to a directory, and takes them down again.
// Node has no mount(2): this runs util-linux `mount` / `umount`.
import { execFile } from 'node:child_process';
import { readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { type BerthError, internal, invalidArgument, isBerthError, unavailable } from '../errors/errors.ts';
import { abortError, throwIfAborted } from '../util/abortable.ts';
import type { Mount } from './snapshotter.ts';

/** The kernel copies mount data into one page; longer option strings fail with EINVAL. */
const MOUNT_DATA_LIMIT = 4095;

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], options: { cwd?: string; signal?: AbortSignal } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { cwd: options.cwd, signal: options.signal, env: { ...process.env, LC_ALL: 'C' }, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error) reject(Object.assign(error, { stdout, stderr }));
        else resolve({ stdout, stderr });
      },
    );
  });
}

function commandError(what: 'mount' | 'umount', e: unknown, fields: Record<string, unknown>, signal?: AbortSignal): BerthError {
  if (signal?.aborted) return abortError(signal);
  if (isBerthError(e)) return e;
  const err = e as NodeJS.ErrnoException & { stderr?: string };
  if (err.code === 'ENOENT') {
    return unavailable(`${what}-missing`, `the \`${what}\` program is not installed (util-linux)`, { cause: e, fields });
  }
  const detail = (err.stderr ?? '').trim() || err.message;
  return internal(`${what}-failed`, `${what}: ${detail}`, { cause: e, fields: { ...fields, stderr: err.stderr } });
}

/** Mount point paths in /proc/self/mountinfo escape space, tab, newline and backslash as octal. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Every mount point of this mount namespace, innermost last (as the kernel lists them). */
export async function listMountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length > 4) out.push(unescapeMountinfo(fields[4]!));
  }
  return out;
}

async function canonical(target: string): Promise<string> {
  try {
    return await realpath(target);
  } catch {
    return path.resolve(target);
  }
}

export async function isMountPoint(target: string): Promise<boolean> {
  const t = await canonical(target);
  return (await listMountPoints()).includes(t);
}

/**
 * Overlay options with many lower layers can pass the one-page limit. Like containerd, express the
 * layer paths relative to their longest common directory and run `mount` from there.
 */
function shortenOverlayOptions(options: string[]): { options: string[]; cwd?: string } {
  if (options.join(',').length <= MOUNT_DATA_LIMIT) return { options };
  const pathKeys = ['lowerdir', 'upperdir', 'workdir'];
  const paths: string[] = [];
  for (const o of options) {
    const [key, value] = splitOption(o);
    if (value !== undefined && pathKeys.includes(key)) paths.push(...(key === 'lowerdir' ? value.split(':') : [value]));
  }
  if (paths.length === 0 || !paths.every((p) => path.isAbsolute(p))) return { options };
  let common = path.dirname(paths[0]!);
  while (!paths.every((p) => p.startsWith(common === '/' ? '/' : `${common}/`))) common = path.dirname(common);
  if (common === '/') return { options };
  const rel = (p: string): string => path.relative(common, p);
  const shortened = options.map((o) => {
    const [key, value] = splitOption(o);
    if (value === undefined || !pathKeys.includes(key)) return o;
    return `${key}=${key === 'lowerdir' ? value.split(':').map(rel).join(':') : rel(value)}`;
  });
  return { options: shortened, cwd: common };
}

function splitOption(o: string): [string, string | undefined] {
  const i = o.indexOf('=');
  return i < 0 ? [o, undefined] : [o.slice(0, i), o.slice(i + 1)];
}

async function mountOne(m: Mount, target: string, signal?: AbortSignal): Promise<void> {
  const fields = { type: m.type, source: m.source, target, options: m.options };
  for (const o of m.options) {
    if (o.includes(',')) throw invalidArgument('bad-mount-option', `mount option "${o}" contains a comma`, { fields });
  }
  let options = [...m.options];
  let cwd: string | undefined;
  const args: string[] = [];
  if (m.type === 'bind' || m.type === 'rbind') {
    if (!options.includes('bind') && !options.includes('rbind')) options.unshift(m.type);
  } else {
    args.push('-t', m.type);
    if (m.type === 'overlay') ({ options, cwd } = shortenOverlayOptions(options));
  }
  const data = options.join(',');
  if (m.type !== 'bind' && data.length > MOUNT_DATA_LIMIT) {
    throw invalidArgument('mount-options-too-long', `mount options are ${data.length} bytes, more than one page`, { fields });
  }
  if (data !== '') args.push('-o', data);
  args.push('--', m.source, target);
  try {
    await run('mount', args, { cwd, signal });
  } catch (e) {
    throw commandError('mount', e, fields, signal);
  }
}

/**
 * Mounts each of `mounts`, in order, on `target` (an existing directory). When one fails, the ones
 * already made are unmounted again and the error is thrown: errors are BerthErrors with code
 * `mount-failed` (carrying mount's stderr), `mount-missing`, or `cancelled`.
 */
export async function mountAll(mounts: readonly Mount[], target: string, signal?: AbortSignal): Promise<void> {
  throwIfAborted(signal);
  let done = 0;
  try {
    for (const m of mounts) {
      await mountOne(m, target, signal);
      done++;
    }
  } catch (e) {
    for (; done > 0; done--) await unmountOnce(target).catch(() => {});
    throw e;
  }
}

async function unmountOnce(target: string, detach = false, signal?: AbortSignal): Promise<void> {
  try {
    await run('umount', [...(detach ? ['-l'] : []), '--', target], { signal });
  } catch (e) {
    throw commandError('umount', e, { target }, signal);
  }
}

export interface UnmountOptions {
  /** Lazy unmount (`umount -l`): detach now, clean up when no longer busy. */
  detach?: boolean;
  signal?: AbortSignal;
}

/**
 * Unmounts everything stacked on `target`. Not being mounted (or not existing) is not an error.
 * Fails with `umount-failed` when a mount stays (busy).
 */
export async function unmount(target: string, options: UnmountOptions = {}): Promise<void> {
  for (let i = 0; i < 64 && (await isMountPoint(target)); i++) {
    throwIfAborted(options.signal);
    await unmountOnce(target, options.detach, options.signal);
  }
  if (await isMountPoint(target)) {
    throw internal('umount-failed', `${target} is still mounted`, { fields: { target } });
  }
}
