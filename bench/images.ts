// The images of the benchmark, built here and pushed to a registry on loopback:
//   busybox:bench  the workload image (Debian's static busybox, three layers)
//   pause:bench    the same layers with an entrypoint that sleeps and, as the real pause does, exits
//                  on SIGTERM (a shell trap: a bare `sleep` as PID 1 ignores SIGTERM, so Docker's stop
//                  of a sandbox would wait out its grace period): every runtime's sandbox image
//   big:200mb      the pull workload: 10 gzip layers of 20 MB of seeded pseudo-random content
//                  each (3 files of 5 MB and 1,250 files of 4 kB per layer), deterministic, so the
//                  same bytes in every run and nearly incompressible (compressed ≈ unpacked size)
import { createCipheriv, createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import {
  busyboxLikeImage,
  type FixtureImageOptions,
  type ImageSpec,
  MediaTypes,
  makeBlob,
  pushBlob,
  pushImage,
  pushManifest,
  sha256,
} from '../test/support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../test/support/registry.ts';
import { type TarEntry, writeTar } from '../test/support/tar-writer.ts';
import { REGISTRY_HOST } from './runtime-under-test.ts';

export interface BigImageShape {
  layers: number;
  /** Content bytes per layer. */
  layerBytes: number;
  bigFilesPerLayer: number;
  smallFileBytes: number;
}

export const BIG_IMAGE: BigImageShape = { layers: 10, layerBytes: 20_000_000, bigFilesPerLayer: 3, smallFileBytes: 4000 };

/** The sandbox image's process: sleeps until SIGTERM or SIGINT, then exits at once (as registry.k8s.io/pause). */
export const PAUSE_ENTRYPOINT = ['/bin/sh', '-c', "trap 'exit 0' TERM INT; sleep 2147483647 & wait"];

export interface BenchImages {
  registry: TestRegistry;
  /** `registry.bench.test/busybox:bench` */
  workload: string;
  /** `registry.bench.test/pause:bench` */
  sandbox: string;
  /** `registry.bench.test/big:200mb` */
  big: string;
  bigInfo: { compressedBytes: number; contentBytes: number; layers: number; files: number; blobs: string[] };
  stop(): Promise<void>;
}

/**
 * The busybox-like fixture with its hard links written as real tar writers write them: with the
 * mode of the file they link to. containerd applies a hard link's header mode to the file, so
 * links of mode 0644 (the fixture's default) would leave /bin/busybox not executable.
 */
export function workloadImage(opts: FixtureImageOptions = {}): ImageSpec {
  const spec = busyboxLikeImage(opts);
  return {
    ...spec,
    layers: spec.layers.map((layer) => ({
      ...layer,
      entries: layer.entries?.map((entry) => (entry.type === 'hardlink' && entry.mode === undefined ? { ...entry, mode: 0o755 } : entry)),
    })),
  };
}

/** `length` deterministic pseudo-random bytes: the AES-128-CTR key stream of a key derived from `seed`. */
export function seededBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(length)), cipher.final()]);
}

/** The tar entries of one layer of the big image. */
export function bigLayerEntries(index: number, shape: BigImageShape = BIG_IMAGE): TarEntry[] {
  const mtime = 1_704_067_200;
  const base = `data/layer-${String(index).padStart(2, '0')}`;
  const entries: TarEntry[] = [];
  if (index === 0) entries.push({ type: 'dir', name: 'data/', mtime });
  entries.push({ type: 'dir', name: `${base}/`, mtime }, { type: 'dir', name: `${base}/big/`, mtime });
  const smallBytesTotal = shape.layerBytes / 4;
  const bigBytes = Math.floor((shape.layerBytes - smallBytesTotal) / shape.bigFilesPerLayer);
  for (let f = 0; f < shape.bigFilesPerLayer; f++) {
    entries.push({
      type: 'file',
      name: `${base}/big/blob-${f}.bin`,
      content: seededBytes(`berth-bench ${index} big ${f}`, bigBytes),
      mtime,
    });
  }
  const smallCount = Math.floor(smallBytesTotal / shape.smallFileBytes);
  const small = seededBytes(`berth-bench ${index} small`, smallCount * shape.smallFileBytes);
  for (let f = 0; f < smallCount; f++) {
    const dir = `${base}/small/${String(Math.floor(f / 25)).padStart(2, '0')}/`;
    if (f % 25 === 0) {
      if (f === 0) entries.push({ type: 'dir', name: `${base}/small/`, mtime });
      entries.push({ type: 'dir', name: dir, mtime });
    }
    const content = small.subarray(f * shape.smallFileBytes, (f + 1) * shape.smallFileBytes);
    entries.push({ type: 'file', name: `${dir}file-${f}.dat`, content, mtime });
  }
  return entries;
}

/** Builds the big image layer by layer (one layer in memory at a time) and pushes it. */
async function pushBigImage(registry: TestRegistry, repoTag: string, shape: BigImageShape): Promise<BenchImages['bigInfo']> {
  const [repository = 'big', tag = 'latest'] = repoTag.split(':');
  const layers: { digest: string; size: number; diffId: string }[] = [];
  let contentBytes = 0;
  let files = 0;
  for (let i = 0; i < shape.layers; i++) {
    const entries = bigLayerEntries(i, shape);
    for (const e of entries) {
      if (e.type === 'file') {
        files++;
        contentBytes += (e.content as Buffer).length;
      }
    }
    const tar = writeTar(entries);
    const blob = makeBlob(MediaTypes.ociLayerGzip, gzipSync(tar, { level: 1 }));
    await pushBlob(registry, repository, blob);
    layers.push({ digest: blob.digest, size: blob.size, diffId: sha256(tar) });
  }
  const created = '2024-01-01T00:00:00Z';
  const config = makeBlob(
    MediaTypes.ociConfig,
    JSON.stringify({
      created,
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_, i) => ({ created, created_by: `berth bench: 20 MB of seeded random content, layer ${i + 1}` })),
    }),
  );
  await pushBlob(registry, repository, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: MediaTypes.ociLayerGzip, digest: l.digest, size: l.size })),
  };
  await pushManifest(registry, repository, tag, Buffer.from(JSON.stringify(manifest)), MediaTypes.ociManifest);
  return {
    compressedBytes: layers.reduce((sum, l) => sum + l.size, 0),
    contentBytes,
    layers: layers.length,
    files,
    blobs: [config.digest, ...layers.map((l) => l.digest)],
  };
}

/** Starts a registry on a free loopback port and pushes the three images. */
export async function prepareImages(shape: BigImageShape = BIG_IMAGE): Promise<BenchImages> {
  const registry = await startRegistry();
  try {
    await pushImage(registry, 'busybox:bench', workloadImage());
    await pushImage(registry, 'pause:bench', workloadImage({ config: { Entrypoint: PAUSE_ENTRYPOINT, Cmd: null } }));
    const bigInfo = await pushBigImage(registry, 'big:200mb', shape);
    return {
      registry,
      workload: `${REGISTRY_HOST}/busybox:bench`,
      sandbox: `${REGISTRY_HOST}/pause:bench`,
      big: `${REGISTRY_HOST}/big:200mb`,
      bigInfo,
      stop: () => registry.stop(),
    };
  } catch (e) {
    await registry.stop();
    throw e;
  }
}

/** Reads every blob of the big image from the registry once, so both runtimes pull from a warm page cache. */
export async function warmRegistry(images: BenchImages): Promise<void> {
  for (const digest of images.bigInfo.blobs) {
    const res = await fetch(`${images.registry.url}/v2/big/blobs/${digest}`);
    if (res.body === null) continue;
    for await (const _chunk of res.body) {
      // discard: only the reading matters
    }
  }
}
