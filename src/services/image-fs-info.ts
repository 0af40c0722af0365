// ImageFsInfo: bytes and inodes that images take on the image filesystem.
import type { ImageDeps } from './image-deps.ts';

export interface ImageFsUsage {
  mountpoint: string;
  bytes: number;
  inodes: number;
  timestampNs: bigint;
}

export async function imageFsInfo(deps: ImageDeps): Promise<ImageFsUsage> {
  let bytes = 0;
  let inodes = 0;
  for (const s of await deps.snapshotter.list()) {
    if (s.kind !== 'committed') continue;
    const u = await deps.snapshotter.usage(s.key);
    bytes += u.bytes;
    inodes += u.inodes;
  }
  for (const blob of await deps.content.list()) {
    bytes += blob.size;
    inodes += 1;
  }
  return { mountpoint: deps.snapshotRoot, bytes, inodes, timestampNs: BigInt(Date.now()) * 1_000_000n };
}
