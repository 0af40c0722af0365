import { lstat, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { failedPrecondition, toBerthError } from '../errors/errors.ts';
import { directoryUsage } from '../util/directory-usage.ts';
import { type DockerEngine, dockerCall } from './docker-engine.ts';

export interface ImageFsUsage {
  mountpoint: string;
  bytes: number;
  inodes: number;
  timestampNs: bigint;
}

interface Usage {
  bytes: number;
  inodes: number;
}

/** Where a driver keeps a layer, under DATAROOT/DRIVER, by the layer's cache-id. */
const LAYER_DIRS: Record<string, string> = { overlay2: '', overlay: '', 'fuse-overlayfs': '', vfs: 'dir', btrfs: 'subvolumes' };

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

async function walk(root: string, signal: AbortSignal): Promise<Usage> {
  const u = await directoryUsage(root, { signal });
  return { bytes: u.bytes, inodes: u.inodes };
}

/** The cache-ids of the engine's image layers (DATAROOT/image/DRIVER/layerdb/sha256/CHAINID/cache-id). */
async function layerCacheIds(layerDb: string): Promise<string[]> {
  const chains = await readdir(layerDb).catch((e: unknown) => (errnoCode(e) === 'ENOENT' ? [] : Promise.reject(e)));
  const ids: string[] = [];
  for (const chain of chains) {
    const id = await readFile(path.join(layerDb, chain, 'cache-id'), 'utf8').catch(() => '');
    if (/^[a-zA-Z0-9_-]+$/.test(id.trim())) ids.push(id.trim());
  }
  return ids;
}

export class DockerImageFs {
  readonly #engine: DockerEngine;
  readonly #layerUsage = new Map<string, Usage>();

  constructor(engine: DockerEngine) {
    this.#engine = engine;
  }

  async usage(signal: AbortSignal): Promise<ImageFsUsage> {
    const info = await dockerCall('read the engine info', () => this.#engine.docker.info());
    const root: string = info.DockerRootDir;
    const driver: string = info.Driver;
    try {
      await lstat(root);
      const metadata = path.join(root, 'image', driver);
      const total = await walk(metadata, signal);
      const sub = LAYER_DIRS[driver];
      if (sub !== undefined) {
        const ids = await layerCacheIds(path.join(metadata, 'layerdb', 'sha256'));
        for (const id of ids) {
          let u = this.#layerUsage.get(id);
          if (u === undefined) {
            u = await walk(path.join(root, driver, sub, id), signal);
            this.#layerUsage.set(id, u);
          }
          total.bytes += u.bytes;
          total.inodes += u.inodes;
        }
        for (const id of this.#layerUsage.keys()) if (!ids.includes(id)) this.#layerUsage.delete(id);
      }
      return { mountpoint: root, ...total, timestampNs: BigInt(Date.now()) * 1_000_000n };
    } catch (e) {
      if (signal.aborted) throw toBerthError(e);
      throw failedPrecondition(
        'docker-root-unreadable',
        `the Docker data root ${root} (storage driver ${driver}) cannot be read here: ${(e as Error).message}; the dockershim must run on the engine's node`,
        { cause: e, fields: { root, driver } },
      );
    }
  }
}
