// Safe resolution of layer entry names inside the directory a layer is unpacked into.
//
// The rules (a layer breaking one is refused whole, code `layer-path-escape`):
//  - a name is split on "/"; empty and "." components are dropped (so a leading "/" or "./" is
//    simply stripped, as Docker does); ".." removes the previous component, and a ".." with
//    nothing left to remove would leave the root;
//  - the parent components are resolved one by one with lstat inside the root, never by the
//    kernel: a symlink is read and its target followed by hand, an absolute target starting
//    again at the root, and a ".." in a target that would climb above the root is an escape;
//  - the final component is never followed (the caller replaces what is there).
// What comes out is a path whose parent directories are all real directories inside the root,
// so Node's fs functions can be used on it without following anything out of the root.
import type { Stats } from 'node:fs';
import { lstat, mkdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { internal, invalidArgument } from '../errors/errors.ts';
import { errnoCode } from '../util/errno.ts';

/** Like Linux's MAXSYMLINKS. */
export const MAX_SYMLINK_HOPS = 40;

export function pathEscape(name: string, detail: string) {
  return invalidArgument('layer-path-escape', `layer entry "${name}" ${detail}`, { fields: { name } });
}

/**
 * Splits a tar name into clean components (an empty array is the root itself). Refuses NUL bytes
 * (`layer-bad-entry`) and ".." that would leave the root (`layer-path-escape`).
 */
export function normalizeLayerPath(name: string): string[] {
  if (name.includes('\0')) {
    throw invalidArgument('layer-bad-entry', `layer entry name ${JSON.stringify(name)} contains a NUL byte`, { fields: { name } });
  }
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) throw pathEscape(name, 'climbs out of the layer root with ".."');
      out.pop();
      continue;
    }
    out.push(c);
  }
  return out;
}

export interface ResolvedPath {
  /** Real components of the parent directory, relative to the root: directories, no symlinks. */
  dir: string[];
  /** The final component, not followed. */
  name: string;
  /** Absolute path: root/dir/name. */
  path: string;
  /** dir/name joined with "/": the location inside the layer. */
  rel: string;
}

async function lstatOrUndefined(p: string): Promise<Stats | undefined> {
  try {
    return await lstat(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

export class LayerRoot {
  readonly root: string;
  readonly #onCreateDir: ((rel: string) => void) | undefined;

  /** `onCreateDir` hears of every missing parent directory that `resolve` creates. */
  constructor(root: string, onCreateDir?: (rel: string) => void) {
    this.root = root;
    this.#onCreateDir = onCreateDir;
  }

  /**
   * Resolves the parent of `components` (non-empty, already normalised) inside the root.
   * With `create`, missing parent directories are made (mode 0755, like Docker); without it, a
   * missing parent gives undefined. `entryName` is only for messages.
   */
  async resolve(components: readonly string[], create: boolean, entryName: string): Promise<ResolvedPath | undefined> {
    if (components.length === 0) throw internal('layer-root-parent', 'resolve: the root has no parent');
    const queue = [...components];
    let dir: string[] = [];
    let hops = 0;
    while (queue.length > 1) {
      const c = queue.shift()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (dir.length === 0) throw pathEscape(entryName, 'resolves through a symlink to a place outside the layer root');
        dir.pop();
        continue;
      }
      const p = path.join(this.root, ...dir, c);
      const st = await lstatOrUndefined(p);
      if (st === undefined) {
        if (!create) return undefined;
        await mkdir(p, { mode: 0o755 });
        dir.push(c);
        this.#onCreateDir?.(dir.join('/'));
        continue;
      }
      if (st.isSymbolicLink()) {
        if (++hops > MAX_SYMLINK_HOPS) {
          throw invalidArgument('layer-symlink-loop', `layer entry "${entryName}": too many levels of symbolic links`, {
            fields: { name: entryName },
          });
        }
        const target = await readlink(p);
        if (target.startsWith('/')) dir = []; // absolute targets are relative to the layer root
        queue.unshift(...target.split('/'));
        continue;
      }
      if (!st.isDirectory()) {
        throw invalidArgument('layer-bad-entry', `layer entry "${entryName}": "${[...dir, c].join('/')}" is not a directory`, {
          fields: { name: entryName },
        });
      }
      dir.push(c);
    }
    const name = queue[0]!;
    return { dir, name, path: path.join(this.root, ...dir, name), rel: [...dir, name].join('/') };
  }

  /**
   * The absolute path of `components` when every parent is a real directory (no symlink at all)
   * and the final component exists; otherwise undefined. For deferred work (directory times)
   * that must not act on a tree later entries may have changed.
   */
  async resolveStrict(components: readonly string[]): Promise<{ path: string; stats: Stats } | undefined> {
    let p = this.root;
    for (let i = 0; i < components.length; i++) {
      p = path.join(p, components[i]!);
      const st = await lstatOrUndefined(p);
      if (st === undefined) return undefined;
      if (i === components.length - 1) return { path: p, stats: st };
      if (!st.isDirectory()) return undefined;
    }
    return { path: p, stats: await lstat(p) };
  }
}
