// Overlay snapshots, after containerd's overlay snapshotter:
//   <root>/metadata.json          every snapshot: key, kind, parent, labels, numeric id
//   <root>/snapshots/<id>/fs      the snapshot's own layer (the overlay upperdir while active)
//   <root>/snapshots/<id>/work    the overlay workdir
// Ids are short numbers so that a lowerdir= list of many layers stays within the one-page limit
// of mount data. The metadata file is replaced atomically (temp file, fsync, rename, fsync dir):
// after a crash it holds either the old or the new state, never a mix. Directories are made
// before a snapshot is recorded and removed after it is forgotten, so a crash leaves at worst an
// unreferenced directory, which `cleanup` removes.

import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { alreadyExists, failedPrecondition, internal, invalidArgument, notFound, toBerthError } from '../errors/errors.ts';
import { directoryUsage } from '../util/directory-usage.ts';
import { errnoCode } from '../util/errno.ts';
import type { Mount, SnapshotInfo, SnapshotKind, Snapshotter, SnapshotUsage } from './snapshotter.ts';

const METADATA_FILE = 'metadata.json';
const METADATA_VERSION = 1;

interface SnapshotRecord {
  key: string;
  id: number;
  kind: SnapshotKind;
  parent?: string;
  labels: Record<string, string>;
  created: number;
}

interface MetadataFile {
  version: number;
  nextId: number;
  snapshots: SnapshotRecord[];
}

interface State {
  nextId: number;
  snapshots: Map<string, SnapshotRecord>;
}

export interface OverlaySnapshotterOptions {
  /**
   * Add `index=off` to overlay mounts (containerd does when the kernel has the parameter): with
   * the index feature on, a lower layer shared by several overlays can make mounts fail.
   * Default: true when /sys/module/overlay/parameters/index exists.
   */
  indexOff?: boolean;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function toInfo(r: SnapshotRecord): SnapshotInfo {
  const info: SnapshotInfo = { key: r.key, kind: r.kind, labels: { ...r.labels }, created: r.created };
  if (r.parent !== undefined) info.parent = r.parent;
  return info;
}

function parseMetadata(text: string, file: string): State {
  const bad = (why: string) => internal('snapshot-metadata-corrupt', `${file}: ${why}`, { fields: { file } });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw internal('snapshot-metadata-corrupt', `${file}: not JSON`, { cause: e, fields: { file } });
  }
  const m = raw as Partial<MetadataFile>;
  if (m.version !== METADATA_VERSION) throw bad(`unknown version ${String(m.version)}`);
  if (!Number.isSafeInteger(m.nextId) || !Array.isArray(m.snapshots)) throw bad('malformed');
  const snapshots = new Map<string, SnapshotRecord>();
  for (const r of m.snapshots) {
    if (typeof r.key !== 'string' || !Number.isSafeInteger(r.id) || !['active', 'view', 'committed'].includes(r.kind)) {
      throw bad('malformed snapshot record');
    }
    snapshots.set(r.key, { ...r, labels: { ...r.labels } });
  }
  return { nextId: m.nextId!, snapshots };
}

export class OverlaySnapshotter implements Snapshotter {
  readonly root: string;
  readonly #indexOff: boolean;
  #state: State;
  #queue: Promise<unknown> = Promise.resolve();
  #committedUsage = new Map<number, SnapshotUsage>();

  private constructor(root: string, state: State, indexOff: boolean) {
    this.root = root;
    this.#state = state;
    this.#indexOff = indexOff;
  }

  /** Opens (creating if needed) the snapshotter rooted at `root`. */
  static async open(root: string, options: OverlaySnapshotterOptions = {}): Promise<OverlaySnapshotter> {
    const abs = path.resolve(root);
    // Paths go into comma- and colon-separated mount options: they cannot contain those.
    if (/[,:=\s]/.test(abs)) {
      throw invalidArgument('bad-snapshot-root', `snapshotter root "${abs}" contains ",", ":", "=" or white space`, {
        fields: { root: abs },
      });
    }
    await mkdir(path.join(abs, 'snapshots'), { recursive: true, mode: 0o700 });
    let state: State = { nextId: 1, snapshots: new Map() };
    const file = path.join(abs, METADATA_FILE);
    try {
      state = parseMetadata(await readFile(file, 'utf8'), file);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw toBerthError(e);
    }
    // Temp files of a write that a crash interrupted.
    for (const name of await readdir(abs)) {
      if (name.startsWith(`.${METADATA_FILE}.`)) await rm(path.join(abs, name), { force: true });
    }
    const indexOff = options.indexOff ?? existsSync('/sys/module/overlay/parameters/index');
    return new OverlaySnapshotter(abs, state, indexOff);
  }

  #dir(id: number): string {
    return path.join(this.root, 'snapshots', String(id));
  }

  /** The directory holding a snapshot's own files (its upperdir while active). */
  fsPath(id: number): string {
    return path.join(this.#dir(id), 'fs');
  }

  #workPath(id: number): string {
    return path.join(this.#dir(id), 'work');
  }

  /** Runs mutations one at a time, in call order. */
  #serial<T>(body: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(body);
    this.#queue = result.catch(() => {});
    return result;
  }

  async #persist(next: State): Promise<void> {
    const data: MetadataFile = { version: METADATA_VERSION, nextId: next.nextId, snapshots: [...next.snapshots.values()] };
    const file = path.join(this.root, METADATA_FILE);
    const tmp = path.join(this.root, `.${METADATA_FILE}.${process.pid}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify(data, null, 1)}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    await syncDir(this.root);
    this.#state = next;
  }

  #copyState(): State {
    return { nextId: this.#state.nextId, snapshots: new Map(this.#state.snapshots) };
  }

  /** The committed ancestors of a snapshot, nearest first. */
  #ancestors(r: SnapshotRecord, state: State = this.#state): SnapshotRecord[] {
    const out: SnapshotRecord[] = [];
    for (let p = r.parent; p !== undefined; ) {
      const parent = state.snapshots.get(p);
      if (parent === undefined) throw internal('snapshot-metadata-corrupt', `parent "${p}" of "${r.key}" is missing`);
      out.push(parent);
      p = parent.parent;
    }
    return out;
  }

  #mountsOf(r: SnapshotRecord): Mount[] {
    const parents = this.#ancestors(r);
    const lowers = parents.map((p) => this.fsPath(p.id));
    const index = this.#indexOff ? ['index=off'] : [];
    if (r.kind === 'active') {
      if (parents.length === 0) return [{ type: 'bind', source: this.fsPath(r.id), options: ['rbind', 'rw'] }];
      return [
        {
          type: 'overlay',
          source: 'overlay',
          options: [...index, `workdir=${this.#workPath(r.id)}`, `upperdir=${this.fsPath(r.id)}`, `lowerdir=${lowers.join(':')}`],
        },
      ];
    }
    if (r.kind === 'view') {
      if (parents.length === 0) return [{ type: 'bind', source: this.fsPath(r.id), options: ['rbind', 'ro'] }];
      if (parents.length === 1) return [{ type: 'bind', source: lowers[0]!, options: ['rbind', 'ro'] }];
      return [{ type: 'overlay', source: 'overlay', options: [...index, `lowerdir=${lowers.join(':')}`] }];
    }
    throw failedPrecondition('snapshot-committed', `snapshot "${r.key}" is committed; prepare or view it to mount it`, {
      fields: { key: r.key },
    });
  }

  async stat(key: string): Promise<SnapshotInfo | undefined> {
    const r = this.#state.snapshots.get(key);
    return r === undefined ? undefined : toInfo(r);
  }

  prepare(key: string, parent: string | undefined, labels: Record<string, string> = {}): Promise<Mount[]> {
    return this.#create('active', key, parent, labels);
  }

  view(key: string, parent: string | undefined, labels: Record<string, string> = {}): Promise<Mount[]> {
    return this.#create('view', key, parent, labels);
  }

  #create(kind: SnapshotKind, key: string, parent: string | undefined, labels: Record<string, string>): Promise<Mount[]> {
    return this.#serial(async () => {
      if (typeof key !== 'string' || key === '') throw invalidArgument('bad-snapshot-key', 'snapshot key is empty');
      if (this.#state.snapshots.has(key)) {
        throw alreadyExists('snapshot-exists', `snapshot "${key}" already exists`, { fields: { key } });
      }
      let parentRecord: SnapshotRecord | undefined;
      if (parent !== undefined && parent !== '') {
        parentRecord = this.#state.snapshots.get(parent);
        if (parentRecord === undefined) {
          throw notFound('snapshot-parent-not-found', `parent snapshot "${parent}" not found`, { fields: { key, parent } });
        }
        if (parentRecord.kind !== 'committed') {
          throw failedPrecondition('snapshot-parent-not-committed', `parent snapshot "${parent}" is not committed`, {
            fields: { key, parent },
          });
        }
      }
      const next = this.#copyState();
      const id = next.nextId++;
      const record: SnapshotRecord = { key, id, kind, labels: { ...labels }, created: Date.now() };
      if (parentRecord !== undefined) record.parent = parentRecord.key;
      next.snapshots.set(key, record);
      const dir = this.#dir(id);
      // A directory with an unused id is a crash leftover: nothing refers to it.
      await rm(dir, { recursive: true, force: true });
      try {
        await mkdir(dir, { mode: 0o700 });
        await mkdir(this.fsPath(id), { mode: 0o755 });
        await mkdir(this.#workPath(id), { mode: 0o700 });
        if (parentRecord !== undefined) {
          // The merged root takes its attributes from the upper dir: carry the parent's over.
          const st = await stat(this.fsPath(parentRecord.id));
          await chown(this.fsPath(id), st.uid, st.gid);
          await chmod(this.fsPath(id), st.mode & 0o7777);
        }
        await this.#persist(next);
      } catch (e) {
        await rm(dir, { recursive: true, force: true }).catch(() => {});
        throw toBerthError(e);
      }
      return this.#mountsOf(record);
    });
  }

  async mounts(key: string): Promise<Mount[]> {
    const r = this.#state.snapshots.get(key);
    if (r === undefined) throw notFound('snapshot-not-found', `snapshot "${key}" not found`, { fields: { key } });
    return this.#mountsOf(r);
  }

  commit(name: string, key: string, labels?: Record<string, string>): Promise<void> {
    return this.#serial(async () => {
      const r = this.#state.snapshots.get(key);
      if (r === undefined) throw notFound('snapshot-not-found', `snapshot "${key}" not found`, { fields: { key } });
      if (r.kind !== 'active') {
        throw failedPrecondition('snapshot-not-active', `snapshot "${key}" is ${r.kind}, not active`, { fields: { key } });
      }
      if (name === '') throw invalidArgument('bad-snapshot-key', 'snapshot name is empty');
      if (this.#state.snapshots.has(name)) {
        throw alreadyExists('snapshot-exists', `snapshot "${name}" already exists`, { fields: { key: name } });
      }
      const next = this.#copyState();
      next.snapshots.delete(key);
      const committed: SnapshotRecord = { ...r, key: name, kind: 'committed', labels: { ...(labels ?? r.labels) } };
      committed.created = Date.now();
      next.snapshots.set(name, committed);
      // The work dir of a committed layer is never used again.
      await rm(this.#workPath(r.id), { recursive: true, force: true }).catch(() => {});
      await mkdir(this.#workPath(r.id), { mode: 0o700 }).catch(() => {});
      await this.#persist(next);
    });
  }

  remove(key: string): Promise<void> {
    return this.#serial(async () => {
      const r = this.#state.snapshots.get(key);
      if (r === undefined) return;
      const children = [...this.#state.snapshots.values()].filter((c) => c.parent === key).map((c) => c.key);
      if (children.length > 0) {
        throw failedPrecondition('snapshot-has-children', `snapshot "${key}" has children: ${children.join(', ')}`, {
          fields: { key, children },
        });
      }
      const next = this.#copyState();
      next.snapshots.delete(key);
      await this.#persist(next).catch(async (e: unknown) => {
        // A full disk, which an unpack or a container's writes may have filled: an active
        // snapshot's own files are disposable, so they go first to make room for the record.
        const code = (e as { code?: unknown }).code;
        if (r.kind === 'committed' || (code !== 'ENOSPC' && code !== 'EDQUOT')) throw e;
        await rm(this.fsPath(r.id), { recursive: true, force: true });
        await this.#persist(next);
      });
      try {
        await rm(this.#dir(r.id), { recursive: true, force: true });
      } catch (e) {
        // Forgotten already; `cleanup` retries the directory.
        throw internal('snapshot-remove-failed', `removing the files of snapshot "${key}": ${String(e)}`, {
          cause: e,
          fields: { key },
        });
      }
    });
  }

  async list(): Promise<SnapshotInfo[]> {
    return [...this.#state.snapshots.values()].map(toInfo);
  }

  /**
   * Disk usage of the snapshot's own layer: allocated bytes (blocks × 512, each inode once, like
   * `du`) and the number of inodes, its root directory included.
   */
  async usage(key: string, signal?: AbortSignal): Promise<SnapshotUsage> {
    const r = this.#state.snapshots.get(key);
    if (r === undefined) throw notFound('snapshot-not-found', `snapshot "${key}" not found`, { fields: { key } });
    // A committed snapshot never changes: walk it once (ImageFsInfo asks every few seconds).
    const cached = this.#committedUsage.get(r.id);
    if (cached !== undefined && r.kind === 'committed') return cached;
    const u = await this.#walkUsage(r.id, signal);
    if (r.kind === 'committed') this.#committedUsage.set(r.id, u);
    return u;
  }

  async #walkUsage(id: number, signal?: AbortSignal): Promise<SnapshotUsage> {
    const u = await directoryUsage(this.fsPath(id), { signal });
    return { bytes: u.bytes, inodes: u.inodes };
  }

  /**
   * Removes active snapshots and views for which `isStale` says so (never committed ones, never
   * one with children), then every directory under snapshots/ that no snapshot refers to.
   */
  cleanup(isStale: (info: SnapshotInfo) => boolean): Promise<void> {
    return this.#serial(async () => {
      const next = this.#copyState();
      const hasChildren = (key: string) => [...next.snapshots.values()].some((c) => c.parent === key);
      for (const r of [...next.snapshots.values()]) {
        if (r.kind !== 'committed' && !hasChildren(r.key) && isStale(toInfo(r))) next.snapshots.delete(r.key);
      }
      if (next.snapshots.size !== this.#state.snapshots.size) await this.#persist(next);
      const used = new Set([...this.#state.snapshots.values()].map((r) => String(r.id)));
      const dir = path.join(this.root, 'snapshots');
      for (const name of await readdir(dir)) {
        if (!used.has(name)) await rm(path.join(dir, name), { recursive: true, force: true });
      }
    });
  }
}
