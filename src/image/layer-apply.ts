// Unpacks one image layer into a new active snapshot and computes its diffID.
//
// The layer is written through the merged view of an overlay mount of the new snapshot on its
// parents (for a first layer, straight into the snapshot's directory). So the kernel itself turns
// deletions into overlay whiteouts in the upper dir, and we never write overlay's private format:
//  - `.wh.NAME` removes NAME (rm -rf in the merged view): the kernel leaves a 0:0 character device;
//  - `.wh..wh..opq` in DIR removes every child of DIR that this layer did not write itself (each
//    becomes a whiteout), which hides all lower content of DIR just as an opaque dir would; DIR
//    itself and its attributes stay. A directory that this layer creates where a lower one was
//    removed is marked opaque by the kernel (trusted.overlay.opaque=y): overlay does that for any
//    directory made over a whiteout. A directory entry for a directory that already exists only
//    updates its owner, mode, xattrs and times: it must NOT be re-created, or it would turn opaque
//    and hide its lower content.
// Extended attributes come from PAX SCHILY.xattr.* records and are set with `setfattr` (package
// attr), as Node has no setxattr: one process per entry, the values on its stdin (never argv). Overlay's own (trusted.overlay.*, user.overlay.*) are skipped:
// no layer may forge whiteouts or redirects. When the filesystem does not support an attribute
// (ENOTSUP), or a security.* one needs a privilege we lack (EPERM, EACCES), it is skipped with a
// warning, as Docker does; any other failure fails the layer.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { chmod, lchown, link, lstat, lutimes, mkdir, mkdtemp, open, readdir, rm, rmdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  BerthError,
  failedPrecondition,
  internal,
  invalidArgument,
  isBerthError,
  resourceExhausted,
  toBerthError,
  unavailable,
} from '../errors/errors.ts';
import type { Digest } from '../oci/digest.ts';
import { mountAll, unmount } from '../snapshot/mount.ts';
import type { Mount, Snapshotter } from '../snapshot/snapshotter.ts';
import { abortError, closeIterator, throwIfAborted } from '../util/abortable.ts';
import { errnoCode } from '../util/errno.ts';
import { compressionOfMediaType, decompressLayer, type LayerCompression } from './layer-compression.ts';
import { DEFAULT_LAYER_LIMITS, LayerBudget, type LayerLimits } from './layer-limits.ts';
import { LayerRoot, normalizeLayerPath, pathEscape } from './layer-path.ts';
import { type TarEntry, TarReader } from './layer-tar-reader.ts';

const WHITEOUT_PREFIX = '.wh.';
const MOUNT_DIR_PREFIX = 'berth-apply-';
const OPAQUE_MARKER = '.wh..wh..opq';
const BLOCK = 512;

export interface ApplyLayerOptions {
  snapshotter: Snapshotter;
  /** Key of the active snapshot to create (the caller commits it after checking the diffID). */
  key: string;
  /** Committed snapshot of the layers below; undefined for the first layer. */
  parent?: string;
  /** The layer blob as stored (compressed or not). */
  blob: Readable | AsyncIterable<Uint8Array>;
  /** The descriptor's media type; the magic bytes decide when it says nothing or is wrong. */
  mediaType?: string;
  signal?: AbortSignal;
  /** Labels for the active snapshot. */
  labels?: Record<string, string>;
  /** When given, a different diffID fails the apply (failed-precondition `diff-id-mismatch`). */
  expectedDiffId?: Digest;
  /** Where the temporary mount point is made; default the system temp dir. */
  tempDir?: string;
  /** Flush the written files to disk (syncfs) before returning. Default true. */
  sync?: boolean;
  /** Bounds on the layer's size, entries, metadata and the free space it leaves. Default DEFAULT_LAYER_LIMITS. */
  limits?: LayerLimits;
}

export interface ApplyLayerResult {
  /** sha256 of the uncompressed tar: the diffID, to compare with the image config's rootfs. */
  diffId: Digest;
  /** Bytes of the uncompressed tar. */
  size: number;
  compression: LayerCompression;
  /** Things skipped on purpose (an xattr the filesystem refused, mislabelled compression). */
  warnings: string[];
}

interface RunError extends Error {
  code?: string | number;
  stderr?: string;
}

function run(file: string, args: string[], signal?: AbortSignal, input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { signal, env: { ...process.env, LC_ALL: 'C' }, encoding: 'utf8' }, (error, _stdout, stderr) => {
      if (error) reject(Object.assign(error, { stderr }) as RunError);
      else resolve();
    });
    child.stdin?.on('error', () => {}); // a child that fails early closes its stdin: its exit tells
    child.stdin?.end(input ?? '');
  });
}

/** getfattr's quoting, which `setfattr --restore` undoes: every byte but plain printable ASCII as \ooo. */
function restoreQuote(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) {
    const plain = b > 0x20 && b < 0x7f && b !== 0x5c && b !== 0x3d && b !== 0x23;
    out += plain ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

function badEntry(entry: TarEntry, message: string) {
  return invalidArgument('layer-bad-entry', `layer entry "${entry.name}": ${message}`, { fields: { name: entry.name } });
}

/** Writes tar entries into a directory tree (a merged overlay view or a plain directory). */
class LayerWriter {
  readonly #root: LayerRoot;
  readonly #signal: AbortSignal | undefined;
  readonly #budget: LayerBudget;
  readonly warnings: string[] = [];
  /** Locations (real paths relative to the root) this layer has written or created. */
  readonly #written = new Set<string>();
  /** Directory times, set once all entries are written (children change their parent's mtime). */
  readonly #dirTimes: { components: string[]; atime: number; mtime: number }[] = [];
  /**
   * Directories an opaque marker of this layer has cleared. Below them everything left was
   * written by this layer, so another marker there has nothing to clear: repeated markers in a
   * large directory cost nothing instead of a full listing each.
   */
  readonly #cleared = new Set<string>();

  constructor(root: string, signal: AbortSignal | undefined, budget: LayerBudget) {
    this.#root = new LayerRoot(root, (rel) => this.#written.add(rel));
    this.#signal = signal;
    this.#budget = budget;
  }

  async apply(entry: TarEntry, reader: TarReader): Promise<void> {
    const components = normalizeLayerPath(entry.name);
    this.#budget.entry(entry.name, components.length);
    await this.#budget.written(BLOCK); // an inode and a directory entry, roughly
    if (components.length === 0) {
      if (entry.kind !== 'dir') throw badEntry(entry, 'the layer root can only be a directory');
      await this.#dirAttributes(this.#root.root, [], entry);
      return;
    }
    const base = components.at(-1)!;
    if (base.startsWith(WHITEOUT_PREFIX)) {
      // Other ".wh..wh." names are aufs internals (.wh..wh.plnk, …): skipped, as Docker does.
      if (base === OPAQUE_MARKER) await this.#opaque(components, entry);
      else if (!base.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`))
        await this.#whiteout(components, base.slice(WHITEOUT_PREFIX.length), entry);
      return;
    }
    switch (entry.kind) {
      case 'file':
        return this.#file(components, entry, reader);
      case 'dir':
        return this.#dir(components, entry);
      case 'symlink':
        return this.#symlink(components, entry);
      case 'hardlink':
        return this.#hardlink(components, entry);
      case 'char':
      case 'block':
      case 'fifo':
        return this.#special(components, entry);
    }
  }

  /** Removes whatever is at `p` (never following a symlink). */
  async #clear(p: string, st?: Stats): Promise<void> {
    const existing = st ?? (await lstat(p).catch(() => undefined));
    if (existing === undefined) return;
    await rm(p, { recursive: existing.isDirectory(), force: true });
  }

  async #whiteout(components: string[], victim: string, entry: TarEntry): Promise<void> {
    if (victim === '' || victim === '.' || victim === '..') throw badEntry(entry, 'whiteout of nothing');
    const r = await this.#root.resolve([...components.slice(0, -1), victim], false, entry.name);
    if (r === undefined) return; // its directory does not exist: nothing to remove
    await this.#clear(r.path);
    this.#written.delete(r.rel);
  }

  async #opaque(components: string[], entry: TarEntry): Promise<void> {
    const r = (await this.#root.resolve(components, true, entry.name))!;
    const rel = r.dir.join('/');
    if (!this.#isCleared(r.dir)) {
      await this.#clearUnwritten(path.dirname(r.path), rel);
      this.#cleared.add(rel);
    }
    if (rel !== '') this.#written.add(rel); // declared by this layer: an outer opaque marker keeps it
  }

  #isCleared(dir: readonly string[]): boolean {
    for (let i = 0; i <= dir.length; i++) if (this.#cleared.has(dir.slice(0, i).join('/'))) return true;
    return false;
  }

  /** Removes every child of `dirPath` that this layer did not write, recursing into ones it did. */
  async #clearUnwritten(dirPath: string, rel: string): Promise<void> {
    for (const name of await readdir(dirPath)) {
      throwIfAborted(this.#signal);
      const childRel = rel === '' ? name : `${rel}/${name}`;
      const child = path.join(dirPath, name);
      if (!this.#written.has(childRel)) {
        await rm(child, { recursive: true, force: true });
        continue;
      }
      const st = await lstat(child);
      if (st.isDirectory()) await this.#clearUnwritten(child, childRel);
    }
  }

  #times(entry: TarEntry): { atime: number; mtime: number } {
    // As Docker: an access time before the modification time (or none) becomes the mtime.
    const atime = entry.atime !== undefined && entry.atime >= entry.mtime ? entry.atime : entry.mtime;
    return { atime, mtime: entry.mtime };
  }

  async #file(components: string[], entry: TarEntry, reader: TarReader): Promise<void> {
    const r = (await this.#root.resolve(components, true, entry.name))!;
    await this.#clear(r.path); // a symlink there is replaced, never written through
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    const fh = await open(r.path, flags, 0o600);
    try {
      for await (const chunk of reader.data()) {
        throwIfAborted(this.#signal);
        await this.#budget.written(chunk.byteLength);
        await writeAll(fh, chunk);
      }
      await fh.chown(entry.uid, entry.gid);
      await fh.chmod(entry.mode); // after chown, which clears setuid and setgid
    } finally {
      await fh.close();
    }
    this.#written.add(r.rel);
    await this.#xattrs(r.path, entry);
    const { atime, mtime } = this.#times(entry);
    await lutimes(r.path, atime, mtime);
  }

  async #dir(components: string[], entry: TarEntry): Promise<void> {
    const r = (await this.#root.resolve(components, true, entry.name))!;
    const st = await lstat(r.path).catch(() => undefined);
    if (st === undefined || !st.isDirectory()) {
      await this.#clear(r.path, st);
      await mkdir(r.path, { mode: 0o700 });
    }
    this.#written.add(r.rel);
    await this.#dirAttributes(r.path, [...r.dir, r.name], entry);
  }

  async #dirAttributes(p: string, components: string[], entry: TarEntry): Promise<void> {
    const fh = await open(p, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY | fsConstants.O_NOFOLLOW);
    try {
      await fh.chown(entry.uid, entry.gid);
      await fh.chmod(entry.mode);
    } finally {
      await fh.close();
    }
    await this.#xattrs(p, entry);
    this.#dirTimes.push({ components, ...this.#times(entry) });
  }

  async #symlink(components: string[], entry: TarEntry): Promise<void> {
    if (entry.linkname === '' || entry.linkname.includes('\0')) throw badEntry(entry, 'symlink without a valid target');
    const r = (await this.#root.resolve(components, true, entry.name))!;
    await this.#clear(r.path);
    await symlink(entry.linkname, r.path);
    this.#written.add(r.rel);
    await lchown(r.path, entry.uid, entry.gid);
    await this.#xattrs(r.path, entry);
    const { atime, mtime } = this.#times(entry);
    await lutimes(r.path, atime, mtime);
  }

  async #hardlink(components: string[], entry: TarEntry): Promise<void> {
    let target: Awaited<ReturnType<LayerRoot['resolve']>>;
    try {
      const targetComponents = normalizeLayerPath(entry.linkname);
      if (targetComponents.length === 0) throw badEntry(entry, 'hard link to the layer root');
      target = await this.#root.resolve(targetComponents, false, entry.linkname);
    } catch (e) {
      if (isBerthError(e) && e.code === 'layer-path-escape')
        throw pathEscape(entry.name, `links to "${entry.linkname}", outside the layer root`);
      throw e;
    }
    const targetStat = target === undefined ? undefined : await lstat(target.path).catch(() => undefined);
    if (target === undefined || targetStat === undefined) throw badEntry(entry, `hard link target "${entry.linkname}" does not exist`);
    if (targetStat.isDirectory()) throw badEntry(entry, `hard link target "${entry.linkname}" is a directory`);
    const r = (await this.#root.resolve(components, true, entry.name))!;
    if (r.path === target.path) return;
    await this.#clear(r.path);
    // link(2) does not follow a symlink at the target: it links the symlink itself.
    await link(target.path, r.path);
    this.#written.add(r.rel);
  }

  async #special(components: string[], entry: TarEntry): Promise<void> {
    if (entry.kind === 'char' && entry.devmajor === 0 && entry.devminor === 0) {
      // Overlay's own whiteout format: a layer must say ".wh.NAME" instead.
      throw badEntry(entry, 'a 0:0 character device (an overlay whiteout) is not a valid layer entry');
    }
    const r = (await this.#root.resolve(components, true, entry.name))!;
    await this.#clear(r.path);
    const type = entry.kind === 'char' ? 'c' : entry.kind === 'block' ? 'b' : 'p';
    const args = ['-m', entry.mode.toString(8), '--', r.path, type];
    if (type !== 'p') args.push(String(entry.devmajor), String(entry.devminor));
    try {
      await run('mknod', args, this.#signal);
    } catch (e) {
      if (this.#signal?.aborted) throw abortError(this.#signal);
      const err = e as RunError;
      if (err.code === 'ENOENT') throw unavailable('mknod-missing', 'the `mknod` program (coreutils) is not installed', { cause: e });
      throw internal('layer-mknod-failed', `layer entry "${entry.name}": mknod: ${(err.stderr ?? err.message).trim()}`, {
        cause: e,
        fields: { name: entry.name },
      });
    }
    this.#written.add(r.rel);
    await lchown(r.path, entry.uid, entry.gid);
    await chmod(r.path, entry.mode); // the node we just made, not a symlink
    await this.#xattrs(r.path, entry);
    const { atime, mtime } = this.#times(entry);
    await lutimes(r.path, atime, mtime);
  }

  async #xattrs(p: string, entry: TarEntry): Promise<void> {
    const wanted: [string, Buffer][] = [];
    for (const [name, value] of entry.xattrs) {
      if (name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) {
        this.warnings.push(`${entry.name}: skipped overlay-private xattr ${name}`);
        continue;
      }
      if (name === '' || name.includes('\0')) throw badEntry(entry, `invalid xattr name ${JSON.stringify(name)}`);
      wanted.push([name, value]);
    }
    if (wanted.length === 0) return;
    // One setfattr for all of the entry's xattrs; only when it fails, one per xattr to tell
    // which failed and whether that may be skipped.
    if ((await this.#setfattr(p, wanted, entry)) === undefined) return;
    for (const [name, value] of wanted) {
      throwIfAborted(this.#signal);
      const stderr = await this.#setfattr(p, [[name, value]], entry);
      if (stderr === undefined) continue;
      const unsupported = /Operation not supported/.test(stderr);
      const denied = /Operation not permitted|Permission denied/.test(stderr);
      if (unsupported || (denied && name.startsWith('security.'))) {
        this.warnings.push(`${entry.name}: xattr ${name} not set: ${stderr}`);
        continue;
      }
      throw failedPrecondition('layer-xattr-failed', `layer entry "${entry.name}": setting xattr ${name}: ${stderr}`, {
        fields: { name: entry.name, xattr: name },
      });
    }
  }

  /** Sets `xattrs` on `p` (not following a symlink) from a restore file on stdin; the error text on failure. */
  async #setfattr(p: string, xattrs: [string, Buffer][], entry: TarEntry): Promise<string | undefined> {
    const lines = [`# file: ${restoreQuote(p)}`, ...xattrs.map(([n, v]) => `${restoreQuote(n)}=0s${v.toString('base64')}`), ''];
    try {
      await run('setfattr', ['-h', '--restore=-'], this.#signal, lines.join('\n'));
      return undefined;
    } catch (e) {
      if (this.#signal?.aborted) throw abortError(this.#signal);
      const err = e as RunError;
      if (err.code === 'ENOENT') {
        throw unavailable('setfattr-missing', `layer entry "${entry.name}" has xattrs; setting them needs \`setfattr\` (package attr)`, {
          cause: e,
        });
      }
      return (err.stderr ?? '').trim() || err.message;
    }
  }

  /** Sets directory times, deepest last-written first; skips any that later entries replaced. */
  async finish(): Promise<void> {
    for (let i = this.#dirTimes.length - 1; i >= 0; i--) {
      throwIfAborted(this.#signal);
      const d = this.#dirTimes[i]!;
      const found = await this.#root.resolveStrict(d.components);
      if (found === undefined || !found.stats.isDirectory()) continue;
      await lutimes(found.path, d.atime, d.mtime);
    }
  }
}

/** Reads the whole layer from `blob` into `root`; returns the diffID and the tar size. */
async function unpack(
  root: string,
  blob: AsyncIterable<Uint8Array>,
  mediaType: string | undefined,
  signal: AbortSignal | undefined,
  limits: LayerLimits,
): Promise<ApplyLayerResult> {
  const budget = new LayerBudget(limits, root);
  await budget.checkFreeSpace();
  const layer = await decompressLayer(blob, mediaType, signal);
  const hash = createHash('sha256');
  let size = 0;
  async function* hashed(): AsyncGenerator<Uint8Array> {
    for await (const chunk of layer.stream) {
      budget.read(chunk.byteLength);
      hash.update(chunk);
      size += chunk.byteLength;
      yield chunk;
    }
  }
  const reader = new TarReader(hashed(), signal, limits.maxEntryMetadataBytes);
  const writer = new LayerWriter(root, signal, budget);
  try {
    for (;;) {
      throwIfAborted(signal);
      const entry = await reader.next();
      if (entry === undefined) break;
      try {
        await writer.apply(entry, reader);
      } catch (e) {
        throw entryError(entry, e);
      }
    }
    await reader.drain(); // the diffID covers everything after the end-of-archive blocks too
    await writer.finish();
  } finally {
    layer.destroy();
  }
  const warnings = [...writer.warnings];
  if (layer.warning !== undefined) warnings.unshift(layer.warning);
  return { diffId: `sha256:${hash.digest('hex')}` as Digest, size, compression: layer.compression, warnings };
}

function entryError(entry: TarEntry, e: unknown): BerthError {
  if (e instanceof BerthError) return e;
  const code = errnoCode(e);
  const fields = { name: entry.name, errno: code };
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return resourceExhausted('no-space', `layer entry "${entry.name}": ${(e as Error).message}`, { cause: e, fields });
  }
  if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'ENOENT' || code === 'EISDIR' || code === 'ENAMETOOLONG') {
    return invalidArgument('layer-bad-entry', `layer entry "${entry.name}": ${(e as Error).message}`, { cause: e, fields });
  }
  return internal('layer-apply-failed', `layer entry "${entry.name}": ${(e as Error).message}`, { cause: e, fields });
}

/** A single read-write bind mount is the snapshot's own directory: write into it directly. */
function directRoot(mounts: Mount[]): string | undefined {
  if (mounts.length !== 1) return undefined;
  const m = mounts[0]!;
  const bind = m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind');
  return bind && !m.options.includes('ro') ? m.source : undefined;
}

async function syncFs(p: string): Promise<void> {
  try {
    await run('sync', ['-f', '--', p]);
  } catch (e) {
    throw internal('layer-sync-failed', `syncing the layer to disk failed: ${String((e as RunError).stderr ?? e)}`, { cause: e });
  }
}

/**
 * Prepares the active snapshot `key` on `parent`, unpacks the layer into it and returns its
 * diffID. The caller checks the diffID against the image config and commits the snapshot. On any
 * failure (a refused entry, a bad stream, cancellation) nothing remains: the temporary mount is
 * taken down, its directory removed, and the active snapshot removed.
 *
 * Refusals are BerthErrors: invalid-argument `layer-path-escape` (a name or link leaving the
 * root), `layer-bad-entry`, `layer-bad-tar`, `layer-bad-compression`, `layer-symlink-loop`,
 * `layer-unsupported-entry`, `unsupported-layer-media-type`, `layer-path-too-deep`;
 * resource-exhausted `layer-too-large`, `layer-too-many-entries`, `layer-entry-metadata-too-large`,
 * `image-fs-reserve`, `no-space`; failed-precondition `diff-id-mismatch`, `layer-xattr-failed`;
 * cancelled / deadline-exceeded.
 */
export async function applyLayer(options: ApplyLayerOptions): Promise<ApplyLayerResult> {
  const { snapshotter, key, parent, blob, mediaType, signal } = options;
  let prepared = false;
  let mountDir: string | undefined;
  // Runs even when cancelled, so it gets no signal. Unmounting what is not mounted is a no-op
  // (a cancelled `mount` may or may not have happened). Throws only if the mount stays.
  const takeDown = async (): Promise<void> => {
    if (mountDir === undefined) return;
    const dir = mountDir;
    await unmount(dir).catch(() => unmount(dir, { detach: true }));
    await rmdir(dir).catch(() => {});
  };
  let result: ApplyLayerResult;
  try {
    throwIfAborted(signal);
    compressionOfMediaType(mediaType); // refuses what cannot be unpacked before making anything
    const mounts = await snapshotter.prepare(key, parent, options.labels);
    prepared = true;
    let root = directRoot(mounts);
    if (root === undefined) {
      mountDir = await mkdtemp(path.join(options.tempDir ?? tmpdir(), MOUNT_DIR_PREFIX));
      await mountAll(mounts, mountDir, signal);
      root = mountDir;
    }
    result = await unpack(root, blob, mediaType, signal, options.limits ?? DEFAULT_LAYER_LIMITS);
    if (options.expectedDiffId !== undefined && result.diffId !== options.expectedDiffId) {
      throw failedPrecondition('diff-id-mismatch', `layer has diffID ${result.diffId}, the image config says ${options.expectedDiffId}`, {
        fields: { expected: options.expectedDiffId, actual: result.diffId },
      });
    }
    if (options.sync ?? true) await syncFs(root);
  } catch (e) {
    const error = signal?.aborted ? abortError(signal) : toBerthError(e);
    if (blob instanceof Readable) blob.destroy();
    else closeIterator(blob[Symbol.asyncIterator]());
    // The first error is the one that matters: cleanup failures are not reported over it.
    await takeDown().catch(() => {});
    if (prepared) await snapshotter.remove(key).catch(() => {});
    throw error;
  }
  try {
    await takeDown();
  } catch (e) {
    throw internal('layer-unmount-failed', `the temporary mount ${mountDir} of the layer could not be removed`, { cause: e });
  }
  return result;
}

/**
 * For daemon start: takes down the temporary mounts that applies killed with the daemon left in
 * `tempDir` (the same directory given to applyLayer), and removes their directories.
 */
export async function cleanupLayerApplyMounts(tempDir: string = tmpdir()): Promise<void> {
  let names: string[];
  try {
    names = await readdir(tempDir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw toBerthError(e);
  }
  for (const name of names) {
    if (!name.startsWith(MOUNT_DIR_PREFIX)) continue;
    const dir = path.join(tempDir, name);
    await unmount(dir).catch(() => unmount(dir, { detach: true }));
    await rmdir(dir).catch(() => {});
  }
}
