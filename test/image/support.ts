// Helpers shared by the image-service integration tests: CRI errors, what the daemon keeps on
// disk (content store, snapshots), mounting an image's layer chain to look at the tree.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rmdir } from 'node:fs/promises';
import path from 'node:path';
import type { ImageClient } from '../../src/cri/cri-client.ts';
import { mountAll, unmount } from '../../src/snapshot/mount.ts';
import type { TestDaemon } from '../support/daemon.ts';

export { expectCriError, setUpAndTearDown } from '../support/cri-test.ts';

// ---------------------------------------------------------------------------
// The daemon's data on disk (layout of FileContentStore and OverlaySnapshotter under <root>)

export interface SnapshotRecord {
  key: string;
  id: number;
  kind: 'active' | 'view' | 'committed';
  parent?: string;
  labels: Record<string, string>;
}

export async function readSnapshots(root: string): Promise<SnapshotRecord[]> {
  const file = path.join(root, 'snapshots', 'metadata.json');
  if (!existsSync(file)) return [];
  return (JSON.parse(await readFile(file, 'utf8')) as { snapshots: SnapshotRecord[] }).snapshots;
}

/** The directory with a snapshot's own files. */
export function snapshotFsDir(root: string, id: number): string {
  return path.join(root, 'snapshots', 'snapshots', String(id), 'fs');
}

/** Snapshot directories on disk (by id), whether or not metadata refers to them. */
export async function snapshotDirs(root: string): Promise<string[]> {
  const dir = path.join(root, 'snapshots', 'snapshots');
  return existsSync(dir) ? (await readdir(dir)).sort() : [];
}

/** Digests of the blobs in the content store. */
export async function blobDigests(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const alg of ['sha256', 'sha512']) {
    const dir = path.join(root, 'content', 'blobs', alg);
    if (!existsSync(dir)) continue;
    for (const name of await readdir(dir)) out.push(`${alg}:${name}`);
  }
  return out.sort();
}

export function blobPath(root: string, digest: string): string {
  const [alg, hex] = digest.split(':') as [string, string];
  return path.join(root, 'content', 'blobs', alg, hex);
}

export async function ingestFiles(root: string): Promise<string[]> {
  const dir = path.join(root, 'content', 'ingest');
  return existsSync(dir) ? await readdir(dir) : [];
}

/**
 * What every failed pull must leave: a daemon that still answers, no temp files in the content
 * store, no half-unpacked (extract-*) snapshots or snapshot dirs without metadata, no mounts.
 * With `image`, also that the image is not listed.
 */
export async function assertNoLeftovers(daemon: TestDaemon, image?: string): Promise<void> {
  const version = await daemon.cri.runtime.version({}, { timeoutMs: 5000 });
  assert.equal(version.runtimeName, 'berth');
  if (image !== undefined) {
    const status = await daemon.cri.image.imageStatus({ image: { image } });
    assert.equal(status.image, undefined, `${image} must not be listed after a failed pull`);
  }
  assert.deepEqual(await ingestFiles(daemon.root), [], 'no temp files under content/ingest');
  const snapshots = await readSnapshots(daemon.root);
  assert.deepEqual(
    snapshots.filter((s) => s.kind !== 'committed').map((s) => s.key),
    [],
    'no active (extract-*) snapshots',
  );
  assert.deepEqual(await snapshotDirs(daemon.root), snapshots.map((s) => String(s.id)).sort(), 'no snapshot dirs without metadata');
  assert.deepEqual(await daemon.mounts(), [], 'no mounts under the daemon dir');
  for (const tmp of [path.join(daemon.dir, 'tmp'), path.join(daemon.root, 'tmp')]) {
    assert.deepEqual(existsSync(tmp) ? await readdir(tmp) : [], [], `no temp mount points left in ${tmp}`);
  }
}

/** Blobs and committed snapshots are exactly those the listed images hold. */
export async function assertOnlyImageData(daemon: TestDaemon): Promise<void> {
  const { images } = await daemon.cri.image.listImages({});
  const wantBlobs = new Set<string>();
  const wantChains = new Set<string>();
  for (const image of images) {
    const info = await imageInfo(daemon.cri.image, image.id);
    wantBlobs.add(info.manifestDigest);
    wantBlobs.add(info.id);
    for (const layer of info.layers) wantBlobs.add(layer.digest);
    for (const chain of await chainOf(daemon.root, info.chainID)) wantChains.add(chain.key);
  }
  const blobs = await blobDigests(daemon.root);
  for (const want of wantBlobs) assert.ok(blobs.includes(want), `blob ${want} of a listed image is present`);
  // Indexes are kept beside the platform manifest, and an image pulled through two manifests (the
  // same config) keeps both: every other blob must be one of those.
  const ids = new Set(images.map((i) => i.id));
  for (const digest of blobs.filter((b) => !wantBlobs.has(b))) {
    const doc = JSON.parse(await readFile(blobPath(daemon.root, digest), 'utf8')) as { manifests?: unknown; config?: { digest?: string } };
    const held = Array.isArray(doc.manifests) || (doc.config?.digest !== undefined && ids.has(doc.config.digest));
    assert.ok(held, `blob ${digest} is held by no image`);
  }
  const committed = (await readSnapshots(daemon.root)).filter((s) => s.kind === 'committed').map((s) => s.key);
  assert.deepEqual(committed.sort(), [...wantChains].sort(), 'committed snapshots are the chains of listed images');
}

// ---------------------------------------------------------------------------
// Image status

export interface VerboseImageInfo {
  id: string;
  chainID: string;
  manifestDigest: string;
  layers: { digest: string; size: number; mediaType: string; diffId: string }[];
  imageSpec: Record<string, unknown> & { config?: Record<string, unknown>; rootfs?: { diff_ids: string[] } };
}

/** ImageStatus(verbose) of an image that must be present, with its `info` JSON parsed. */
export async function imageInfo(image: ImageClient, ref: string): Promise<VerboseImageInfo> {
  const status = await image.imageStatus({ image: { image: ref }, verbose: true });
  assert.ok(status.image !== undefined, `${ref} is present`);
  const text = status.info.info;
  assert.ok(text !== undefined, 'verbose ImageStatus has info.info');
  return JSON.parse(text) as VerboseImageInfo;
}

/** The committed snapshots of a chain, bottom first. */
export async function chainOf(root: string, topChainId: string): Promise<SnapshotRecord[]> {
  const byKey = new Map((await readSnapshots(root)).map((s) => [s.key, s]));
  const out: SnapshotRecord[] = [];
  for (let key: string | undefined = topChainId; key !== undefined; ) {
    const s = byKey.get(key);
    assert.ok(s !== undefined, `snapshot ${key} exists`);
    assert.equal(s.kind, 'committed');
    out.unshift(s);
    key = s.parent;
  }
  return out;
}

/**
 * Mounts the committed chain that ends in `topChainId` read-only (an overlay of the layer dirs, or a
 * bind mount of a single layer) on a temp dir, runs `body` on it and unmounts again.
 */
export async function withImageTree<T>(
  root: string,
  topChainId: string,
  scratch: string,
  body: (tree: string, chain: SnapshotRecord[]) => Promise<T>,
): Promise<T> {
  const chain = await chainOf(root, topChainId);
  const lowers = chain.map((s) => snapshotFsDir(root, s.id)).reverse();
  const target = await mkdtemp(path.join(scratch, 'tree-'));
  const indexOff = existsSync('/sys/module/overlay/parameters/index') ? ['index=off'] : [];
  const mounts =
    lowers.length === 1
      ? [{ type: 'bind', source: lowers[0] as string, options: ['rbind', 'ro'] }]
      : [{ type: 'overlay', source: 'overlay', options: ['ro', ...indexOff, `lowerdir=${lowers.join(':')}`] }];
  await mountAll(mounts, target);
  try {
    return await body(target, chain);
  } finally {
    await unmount(target).catch(() => unmount(target, { detach: true }));
    await rmdir(target);
  }
}

export interface FsUsage {
  bytes: bigint;
  inodes: bigint;
  mountpoint: string;
}

export async function imageFsUsage(image: ImageClient): Promise<FsUsage> {
  const info = await image.imageFsInfo({});
  const fs = info.imageFilesystems[0];
  assert.ok(fs !== undefined, 'ImageFsInfo reports an image filesystem');
  return { bytes: fs.usedBytes?.value ?? -1n, inodes: fs.inodesUsed?.value ?? -1n, mountpoint: fs.fsId?.mountpoint ?? '' };
}
