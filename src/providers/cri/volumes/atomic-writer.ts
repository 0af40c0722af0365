// Writes the files of a configMap, secret or downwardAPI volume so that readers never see half an
// update, as the kubelet's atomic writer does: the files go to a new hidden timestamped directory,
// the `..data` symlink is swapped to it with one rename, and the names users see are symlinks
// through `..data` (`key -> ..data/key`). Names starting with `..` are reserved for this.
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument } from '../../../errors/errors.ts';

export interface FileProjection {
  data: Uint8Array;
  /** Permission bits, 0–0777. */
  mode: number;
}

const DATA_DIR = '..data';
const NEW_DATA_DIR = '..data_tmp';
const MAX_NAME = 255;
const MAX_PATH = 4096;

/** Why a payload path cannot be written (empty, absolute, `..`, reserved, too long), or undefined. */
export function payloadPathProblem(p: string): string | undefined {
  if (p === '') return 'must not be empty';
  if (path.isAbsolute(p)) return `must be relative path: ${p}`;
  if (p.length > MAX_PATH) return `must be less than or equal to ${MAX_PATH} characters`;
  const parts = p.split('/');
  if (parts.includes('..')) return `must not contain '..': ${p}`;
  if (parts.some((part) => part.length > MAX_NAME)) return `filenames must be less than or equal to ${MAX_NAME} characters`;
  if (parts[0]!.startsWith('..')) return `must not start with '..': ${p}`;
  return undefined;
}

function cleanPayload(payload: ReadonlyMap<string, FileProjection>): Map<string, FileProjection> {
  const clean = new Map<string, FileProjection>();
  for (const [p, file] of payload) {
    const problem = payloadPathProblem(p);
    if (problem !== undefined) throw invalidArgument('invalid-volume-path', `invalid path: ${problem}`, { fields: { path: p } });
    clean.set(path.posix.normalize(p), file);
  }
  return clean;
}

/** `..2026_11_28_14_05_09.` in UTC, the prefix of a new data directory. */
function timestampPrefix(now: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `..${now.getUTCFullYear()}_${two(now.getUTCMonth() + 1)}_${two(now.getUTCDate())}_${two(now.getUTCHours())}_${two(now.getUTCMinutes())}_${two(now.getUTCSeconds())}.`;
}

async function readLinkOrUndefined(p: string): Promise<string | undefined> {
  try {
    return await readlink(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Every path below `dir`, relative to it. */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    out.push(rel);
    if (entry.isDirectory()) out.push(...(await walk(dir, rel)));
  }
  return out;
}

async function fileDiffers(file: string, wanted: FileProjection): Promise<boolean> {
  try {
    const [info, data] = await Promise.all([stat(file), readFile(file)]);
    return (info.mode & 0o777) !== wanted.mode || !data.equals(wanted.data);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
}

/**
 * Makes `targetDir` (an existing directory) hold exactly `payload`; returns whether anything was
 * written (false when the files already are as wanted).
 */
export async function writeAtomically(
  targetDir: string,
  payload: ReadonlyMap<string, FileProjection>,
  now: Date = new Date(),
): Promise<boolean> {
  const files = cleanPayload(payload);
  const dataDir = path.join(targetDir, DATA_DIR);
  const oldTsName = await readLinkOrUndefined(dataDir);
  let stale: string[] = [];
  if (oldTsName !== undefined) {
    const oldTsDir = path.join(targetDir, oldTsName);
    const wanted = new Set<string>();
    for (const p of files.keys()) for (let q = p; q !== '.'; q = path.posix.dirname(q)) wanted.add(q);
    stale = (await walk(oldTsDir).catch(() => [] as string[])).filter((p) => !wanted.has(p));
    let differs = false;
    for (const [p, file] of files) if (await fileDiffers(path.join(oldTsDir, p), file)) differs = true;
    if (!differs && stale.length === 0) return false;
  }

  const tsDir = await mkdtemp(path.join(targetDir, timestampPrefix(now)));
  try {
    await chmod(tsDir, 0o755);
    for (const [p, file] of files) {
      const full = path.join(tsDir, p);
      await mkdir(path.dirname(full), { recursive: true, mode: 0o755 });
      await writeFile(full, file.data, { mode: file.mode });
      await chmod(full, file.mode);
    }
    for (const top of new Set([...files.keys()].map((p) => p.split('/')[0]!))) {
      const visible = path.join(targetDir, top);
      if ((await readLinkOrUndefined(visible)) === undefined) {
        if (
          await lstat(visible).then(
            () => true,
            () => false,
          )
        )
          await rm(visible, { recursive: true, force: true });
        await symlink(path.join(DATA_DIR, top), visible);
      }
    }
    const newDataDir = path.join(targetDir, NEW_DATA_DIR);
    await rm(newDataDir, { force: true });
    await symlink(path.basename(tsDir), newDataDir);
    await rename(newDataDir, dataDir);
  } catch (e) {
    await rm(tsDir, { recursive: true, force: true });
    throw e;
  }
  for (const p of stale) if (!p.includes('/')) await rm(path.join(targetDir, p), { force: true });
  if (oldTsName !== undefined) await rm(path.join(targetDir, oldTsName), { recursive: true, force: true });
  return true;
}
