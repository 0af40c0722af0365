// PullImage onto a full disk: the daemon's root is a small tmpfs, nearly filled by a file of the
// test's own. A layer that does not fit in the content store, and one that fits compressed but not
// unpacked, each fail with RESOURCE_EXHAUSTED (the kubelet's "no space" is not a bad image), leave no
// ingest file, no half-unpacked snapshot and no mount, and pull fine once the filler is removed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { startDaemon, type TestDaemon } from '../support/daemon.ts';
import { pushImage, tinyImage } from '../support/image-builder.ts';
import { run } from '../support/pod-fixtures.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';
import { assertNoLeftovers, assertOnlyImageData, expectCriError, setUpAndTearDown } from './support.ts';

const TMPFS_BYTES = 24 * 1024 * 1024;
/** What the filler leaves free: room for the metadata, not for the big layers. */
const LEFT_FREE = 3 * 1024 * 1024;
const MiB = 1024 * 1024;

let registry: TestRegistry;
let daemon: TestDaemon;
let temp: TempDir;
let disk: string;
let filler: string;

setUpAndTearDown(
  async () => {
    temp = await makeTempDir('berth-full-disk-');
    disk = path.join(temp.path, 'disk');
    await mkdir(disk);
    const mounted = await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'berth-test-full-disk', disk]);
    assert.equal(mounted.code, 0, mounted.stderr);
    filler = path.join(disk, 'filler');
    registry = await startRegistry();
    // No free-space reserve: these tests are about the disk itself running full, not the reserve.
    daemon = await startDaemon({
      root: path.join(disk, 'root'),
      registries: { [registry.host]: { mirrors: [], insecure: true } },
      extraConfig: '[image]\nmin_free_space = 0',
    });
  },
  async () => {
    const left = await daemon?.stop();
    await registry?.stop();
    if (disk !== undefined) await run('umount', [disk]);
    await temp?.remove();
    assert.deepEqual(left ?? [], []);
  },
);

/** Fills the tmpfs up to `free` bytes left. */
async function fill(free: number): Promise<void> {
  await rm(filler, { force: true });
  const s = await statfs(disk);
  const available = s.bavail * s.bsize;
  assert.ok(available > free, `the tmpfs has ${available} bytes free`);
  await writeFile(filler, Buffer.alloc(available - free));
  const after = await statfs(disk);
  assert.ok(after.bavail * after.bsize <= free + 64 * 1024, 'the filler took the space');
}

describe('a pull onto a full disk', { timeout: 180_000 }, () => {
  test('a layer bigger than the free space: RESOURCE_EXHAUSTED while downloading, nothing left, then it pulls', async () => {
    const ref = `${registry.host}/full/download:1`;
    // Random bytes do not compress: the blob itself is about 6 MiB.
    await pushImage(
      registry,
      'full/download:1',
      tinyImage({ compression: 'none', files: { 'big.bin': randomBytes(6 * MiB).toString('latin1') } }),
    );
    await fill(LEFT_FREE);
    await expectCriError(daemon.cri.image.pullImage({ image: { image: ref } }), 'RESOURCE_EXHAUSTED');
    await assertNoLeftovers(daemon, ref);

    await rm(filler);
    const pulled = await daemon.cri.image.pullImage({ image: { image: ref } });
    assert.match(pulled.imageRef, /^sha256:/);
    await assertOnlyImageData(daemon);
    await daemon.cri.image.removeImage({ image: { image: ref } });
    await assertOnlyImageData(daemon);
  });

  test('a layer that fits compressed but not unpacked: RESOURCE_EXHAUSTED while unpacking, nothing left, then it pulls', async () => {
    const ref = `${registry.host}/full/unpack:1`;
    // 8 MiB of zeros gzip to a few KiB: the download fits, the unpacked file does not.
    await pushImage(registry, 'full/unpack:1', tinyImage({ compression: 'gzip', files: { 'zeros.bin': '\0'.repeat(8 * MiB) } }));
    await fill(LEFT_FREE);
    await expectCriError(daemon.cri.image.pullImage({ image: { image: ref } }), 'RESOURCE_EXHAUSTED');
    await assertNoLeftovers(daemon, ref);

    await rm(filler);
    const pulled = await daemon.cri.image.pullImage({ image: { image: ref } });
    assert.match(pulled.imageRef, /^sha256:/);
    await assertOnlyImageData(daemon);
    await daemon.cri.image.removeImage({ image: { image: ref } });
    await assertOnlyImageData(daemon);
  });
});
