import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tarEntryBlocks, writeTar } from '../../test/support/tar-writer.ts';
import { isBerthError } from '../errors/errors.ts';
import { compressionOfMagic, compressionOfMediaType } from './layer-compression.ts';
import { type TarEntry, TarReader } from './layer-tar-reader.ts';

async function* chunked(data: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function readAll(data: Buffer, chunk = 100): Promise<{ entry: TarEntry; data: string }[]> {
  const reader = new TarReader(chunked(data, chunk));
  const out: { entry: TarEntry; data: string }[] = [];
  for (let e = await reader.next(); e !== undefined; e = await reader.next()) {
    const parts: Buffer[] = [];
    for await (const c of reader.data()) parts.push(c);
    out.push({ entry: e, data: Buffer.concat(parts).toString() });
  }
  await reader.drain();
  return out;
}

test('binary xattr values (NUL, newline, "=") survive PAX parsing', async () => {
  const value = Buffer.from([0, 10, 61, 255, 10, 0]);
  const entries = await readAll(
    writeTar([{ type: 'file', name: 'f', content: 'data', xattrs: { 'user.bin': value, 'user.a=b': 'x' } }]),
    7,
  );
  assert.equal(entries.length, 1);
  assert.equal(entries[0]!.data, 'data');
  assert.deepEqual(entries[0]!.entry.xattrs.get('user.bin'), value);
  assert.deepEqual(entries[0]!.entry.xattrs.get('user.a=b'), undefined, 'the key ends at the first "="');
  assert.deepEqual(entries[0]!.entry.xattrs.get('user.a'), Buffer.from('b=x'));
});

test('unread data is skipped; ustar prefix; directories and links carry no data', async () => {
  const long = `${'p'.repeat(120)}/name`;
  const tar = writeTar([
    { type: 'file', name: 'skipped', content: 'x'.repeat(1500) },
    { type: 'file', name: long, content: 'y' },
    { type: 'dir', name: 'd/' },
    { type: 'symlink', name: 'l', linkname: 'target' },
  ]);
  const reader = new TarReader(chunked(tar, 512));
  assert.equal((await reader.next())?.name, 'skipped');
  const second = await reader.next();
  assert.equal(second?.name, long);
  assert.equal(second?.size, 1);
  const d = await reader.next();
  assert.equal(d?.kind, 'dir');
  assert.equal(d?.name, 'd/');
  const l = await reader.next();
  assert.deepEqual([l?.kind, l?.linkname], ['symlink', 'target']);
  assert.equal(await reader.next(), undefined);
  assert.equal(await reader.next(), undefined);
});

test('GNU base-256 numbers and GNU atime', async () => {
  const block = Buffer.from(tarEntryBlocks({ type: 'file', name: 'big', content: '' }));
  // uid 2^40 in base-256, GNU magic with an atime.
  block.fill(0, 108, 116);
  block[108] = 0x80;
  block.writeUIntBE(2 ** 40, 110, 6);
  block.write('ustar  \0', 257, 8, 'latin1');
  block.write('00000000144\0', 345, 12, 'latin1'); // atime 100
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  const [e] = await readAll(Buffer.concat([block, Buffer.alloc(1024)]));
  assert.equal(e!.entry.uid, 2 ** 40);
  assert.equal(e!.entry.atime, 100);
});

test('malformed archives are layer-bad-tar', async () => {
  const good = writeTar([{ type: 'file', name: 'a', content: 'abc' }]);
  const bad = Buffer.from(good);
  bad[100] = 0x39; // mode digit "9": not octal (and the checksum no longer matches)
  await assert.rejects(readAll(bad), (e) => isBerthError(e, 'invalid-argument') && e.code === 'layer-bad-tar');
  await assert.rejects(readAll(good.subarray(0, 300)), (e) => isBerthError(e) && e.code === 'layer-bad-tar');
  const zeroThenJunk = Buffer.concat([Buffer.alloc(512), good]);
  await assert.rejects(readAll(zeroThenJunk), (e) => isBerthError(e) && e.code === 'layer-bad-tar');
  const pax = writeTar([{ type: 'file', name: 'a', content: '', pax: { 'GNU.sparse.major': '1' } }]);
  await assert.rejects(readAll(pax), (e) => isBerthError(e) && e.code === 'layer-unsupported-entry');
});

test('compression from media types and magic bytes', () => {
  const cases: [string | undefined, string | undefined][] = [
    ['application/vnd.oci.image.layer.v1.tar', 'none'],
    ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
    ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
    ['application/octet-stream', undefined],
    [undefined, undefined],
  ];
  for (const [mt, expected] of cases) assert.equal(compressionOfMediaType(mt), expected, mt);
  for (const mt of ['application/vnd.oci.image.layer.v1.tar+gzip+encrypted', 'application/x-tar+bzip2', 'application/x-tar+xz']) {
    assert.throws(
      () => compressionOfMediaType(mt),
      (e) => isBerthError(e, 'invalid-argument'),
      mt,
    );
  }
  assert.equal(compressionOfMagic(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  assert.equal(compressionOfMagic(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(compressionOfMagic(Buffer.from([0x50, 0x2a, 0x4d, 0x18])), 'zstd');
  assert.equal(compressionOfMagic(Buffer.from('etc/passwd')), 'none');
  assert.throws(
    () => compressionOfMagic(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0])),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});
