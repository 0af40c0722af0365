// Layers built to exhaust the node: an xattr flood, a decompression bomb, an entry-count bomb and
// an opaque-marker flood. Each fails its pull with a clear code (or, for the markers, unpacks
// without a listing per marker), the daemon keeps serving, nothing is left behind and the
// daemon's peak memory stays bounded.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { startDaemon, type TestDaemon } from '../support/daemon.ts';
import { pushImage, sha256 } from '../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { type TarEntry, tarEntryBlocks, writeTar } from '../support/tar-writer.ts';
import { assertNoLeftovers, expectCriError, imageInfo, setUpAndTearDown, withImageTree } from './support.ts';

const MiB = 1024 * 1024;
const MAX_LAYER_BYTES = 256 * MiB;
const MAX_ENTRIES = 50_000;
/** Peak resident memory the daemon may reach above its own at start, whatever the layers do. */
const MEMORY_ALLOWANCE = 300 * MiB;

let registry: TestRegistry;
let daemon: TestDaemon;
let baselineRss = 0;

setUpAndTearDown(
  async () => {
    registry = await startRegistry();
    daemon = await startDaemon({
      registries: { [registry.host]: { mirrors: [], insecure: true } },
      extraConfig: `[image]\nlayer_max_size = "${MAX_LAYER_BYTES / MiB}MiB"\nlayer_max_entries = ${MAX_ENTRIES}\n`,
    });
    baselineRss = await peakRss(daemon.pid);
  },
  async () => {
    const left = await daemon?.stop();
    await registry?.stop();
    assert.deepEqual(left ?? [], []);
  },
);

/** VmHWM: the process's peak resident set, in bytes. */
async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  assert.ok(kb !== null, 'VmHWM in /proc/PID/status');
  return Number(kb[1]) * 1024;
}

async function assertMemoryBounded(): Promise<void> {
  const peak = await peakRss(daemon.pid);
  assert.ok(peak < baselineRss + MEMORY_ALLOWANCE, `daemon peak RSS ${peak >> 20} MiB, started at ${baselineRss >> 20} MiB`);
}

/** One gzip member per part: gzip readers read concatenated members as one stream. */
function gzipMembers(parts: Buffer[]): Buffer {
  return Buffer.concat(parts.map((p) => gzipSync(p, { level: 1 })));
}

function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len = String(len).length + rest.length;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

/** A PAX extended header ('x') with `body` as its records. */
function paxHeader(body: Buffer): Buffer {
  return tarEntryBlocks({ type: 'file', typeflag: 'x', name: 'PaxHeaders/flood', content: body });
}

async function pushBlobImage(name: string, blob: Buffer, diffId: string): Promise<string> {
  const pushed = await pushImage(registry, `hostile/${name}:1`, { layers: [{ blob: { bytes: blob, diffId }, compression: 'gzip' }] });
  return pushed.reference;
}

describe('hostile layers', () => {
  test('an xattr flood: many PAX headers of 16 MiB each before one entry, RESOURCE_EXHAUSTED', async () => {
    const value = Buffer.alloc(16 * MiB - 100, 'A'); // each header just under a 16 MiB per-header cap
    const parts: Buffer[] = [];
    for (let i = 0; i < 64; i++) parts.push(paxHeader(paxRecord(`SCHILY.xattr.user.flood${i}`, value)));
    parts.push(writeTar([{ type: 'file', name: 'victim', content: 'x' }]));
    const ref = await pushBlobImage('xattr-flood', gzipMembers(parts), sha256('not checked: refused before the end'));
    const error = await expectCriError(daemon.cri.image.pullImage({ image: { image: ref } }), 'RESOURCE_EXHAUSTED', /PAX records/);
    assert.equal(error.code, 'layer-entry-metadata-too-large');
    await assertNoLeftovers(daemon, ref);
    await assertMemoryBounded();
  });

  test('a decompression bomb: a small gzip of 8 GiB of zeros stops at the layer size limit', async () => {
    const size = 8 * 1024 * MiB - 512; // the largest an 11-digit octal size field holds, nearly
    const header = tarEntryBlocks({ type: 'file', name: 'zeros' }).subarray(0, 512);
    // The writer saw no content: the size field says 8 GiB only once set here, with the checksum.
    header.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
    header.fill(0x20, 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
    const zeros = gzipSync(Buffer.alloc(64 * MiB), { level: 9 });
    const blob = Buffer.concat([gzipSync(header), ...Array.from({ length: 128 }, () => zeros)]);
    assert.ok(blob.length < 16 * MiB, `the bomb is small (${blob.length} bytes)`);
    const ref = await pushBlobImage('gzip-bomb', blob, sha256('not checked: refused before the end'));
    const error = await expectCriError(daemon.cri.image.pullImage({ image: { image: ref } }), 'RESOURCE_EXHAUSTED', /larger than/);
    assert.equal(error.code, 'layer-too-large');
    await assertNoLeftovers(daemon, ref);
    await assertMemoryBounded();
  });

  test('an entry-count bomb: a million entries, RESOURCE_EXHAUSTED at the entry limit', async () => {
    // Headers of aufs-internal names: cheap to build, and each one counts.
    const one = tarEntryBlocks({ type: 'file', name: '.wh..wh.bomb' });
    const member = gzipSync(Buffer.concat(Array.from({ length: 65_536 }, () => one)), { level: 9 });
    const blob = Buffer.concat(Array.from({ length: 16 }, () => member));
    const ref = await pushBlobImage('entry-bomb', blob, sha256('not checked: refused before the end'));
    const error = await expectCriError(daemon.cri.image.pullImage({ image: { image: ref } }), 'RESOURCE_EXHAUSTED', /entries/);
    assert.equal(error.code, 'layer-too-many-entries');
    await assertNoLeftovers(daemon, ref);
    await assertMemoryBounded();
  });

  test('an entry deeper than the path depth limit: INVALID_ARGUMENT', async () => {
    const deep = `${Array.from({ length: 200 }, () => 'd').join('/')}/file`;
    const ref = `${registry.host}/hostile/deep:1`;
    await pushImage(registry, 'hostile/deep:1', { layers: [{ entries: [{ type: 'file', name: deep, content: 'x' }] }] });
    const error = await expectCriError(daemon.cri.image.pullImage({ image: { image: ref } }), 'INVALID_ARGUMENT', /levels deep/);
    assert.equal(error.code, 'layer-path-too-deep');
    await assertNoLeftovers(daemon, ref);
  });

  test('an opaque-marker flood in a large directory unpacks with one listing, and hides the lower files', async () => {
    const files = 2000;
    const lower: TarEntry[] = [{ type: 'dir', name: 'big/' }];
    for (let i = 0; i < files; i++) lower.push({ type: 'file', name: `big/lower-${i}`, content: '' });
    const upper: TarEntry[] = [{ type: 'dir', name: 'big/' }];
    for (let i = 0; i < files; i++) upper.push({ type: 'file', name: `big/upper-${i}`, content: '' });
    // Each marker after the first would list the directory and stat what this layer wrote: with a
    // listing per marker this layer takes far longer than the pull's deadline.
    const marker = tarEntryBlocks({ type: 'file', name: 'big/.wh..wh..opq' });
    const upperTar = Buffer.concat([writeTar(upper, { end: false }), ...Array.from({ length: 40_000 }, () => marker), Buffer.alloc(1024)]);
    const pushed = await pushImage(registry, 'hostile/opaque-flood:1', { layers: [{ entries: lower }, { tar: upperTar }] });
    const ref = pushed.reference;
    await daemon.cri.image.pullImage({ image: { image: ref } }, { timeoutMs: 300_000 });
    const info = await imageInfo(daemon.cri.image, ref);
    await withImageTree(daemon.root, info.chainID, daemon.dir, async (tree) => {
      const names = await readdir(`${tree}/big`);
      assert.equal(names.length, files);
      assert.ok(names.every((n) => n.startsWith('upper-')));
    });
    await daemon.cri.image.removeImage({ image: { image: ref } });
    await assertNoLeftovers(daemon, ref);
    await assertMemoryBounded();
  });
});
