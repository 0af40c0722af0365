import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { type TarEntry, writeTar } from '../../test/support/tar-writer.ts';
import { makeTempDir } from '../../test/support/tmp.ts';
import { isBerthError } from '../errors/errors.ts';
import { archivePath, readArchive, resolveLink } from './archive-tar.ts';

async function archiveFile(dir: string, name: string, bytes: Buffer): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return file;
}

async function readAll(file: string): Promise<{ path: string; type: string; data: string; linkpath?: string }[]> {
  const out: { path: string; type: string; data: string; linkpath?: string }[] = [];
  for await (const m of readArchive(file)) {
    const chunks: Buffer[] = [];
    for await (const c of m.body) chunks.push(c);
    out.push({
      path: m.path,
      type: m.type,
      data: Buffer.concat(chunks).toString(),
      ...(m.linkpath === undefined ? {} : { linkpath: m.linkpath }),
    });
  }
  return out;
}

const entries: TarEntry[] = [
  { type: 'dir', name: './' },
  { type: 'file', name: './oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' },
  { type: 'dir', name: 'blobs/' },
  { type: 'file', name: 'blobs//sha256/./abc', content: 'x' },
  { type: 'file', name: 'empty', content: '' },
  { type: 'symlink', name: 'b/layer.tar', linkname: '../a/layer.tar' },
  { type: 'file', name: `${'long/'.repeat(40)}name`, content: 'pax path' },
];

test('members come out with checked, normalised names; plain, gzip and zstd alike', async () => {
  await using dir = await makeTempDir();
  const tar = writeTar(entries);
  for (const [name, bytes] of [
    ['plain.tar', tar],
    ['gz.tar.gz', gzipSync(tar)],
    ['zst.tar', zstdCompressSync(tar)],
  ] as const) {
    const got = await readAll(await archiveFile(dir.path, name, bytes));
    assert.deepEqual(
      got,
      [
        { path: '', type: 'dir', data: '' },
        { path: 'oci-layout', type: 'file', data: '{"imageLayoutVersion":"1.0.0"}' },
        { path: 'blobs', type: 'dir', data: '' },
        { path: 'blobs/sha256/abc', type: 'file', data: 'x' },
        { path: 'empty', type: 'file', data: '' },
        { path: 'b/layer.tar', type: 'symlink', data: '', linkpath: '../a/layer.tar' },
        { path: `${'long/'.repeat(40)}name`, type: 'file', data: 'pax path' },
      ],
      name,
    );
  }
});

test('unread bodies are skipped; big members stream with bounded buffering', async () => {
  await using dir = await makeTempDir();
  const big = randomBytes(5 * 1024 * 1024 + 123);
  const file = await archiveFile(
    dir.path,
    'big.tar',
    writeTar([
      { type: 'file', name: 'skipped', content: randomBytes(3 * 1024 * 1024) },
      { type: 'file', name: 'big', content: big },
      { type: 'file', name: 'after', content: 'tail' },
    ]),
  );
  const seen: string[] = [];
  for await (const m of readArchive(file)) {
    seen.push(m.path);
    if (m.path === 'big') {
      const hash = createHash('sha256');
      let n = 0;
      for await (const c of m.body) {
        hash.update(c);
        n += c.length;
        if (n < 2 * 1024 * 1024) await sleep(1); // a slow reader
      }
      assert.equal(n, big.length);
      assert.equal(hash.digest('hex'), createHash('sha256').update(big).digest('hex'));
    }
  }
  assert.deepEqual(seen, ['skipped', 'big', 'after']);
});

test('a reader that stops early closes the archive', async () => {
  await using dir = await makeTempDir();
  const file = await archiveFile(
    dir.path,
    'a.tar',
    writeTar([
      { type: 'file', name: 'a', content: randomBytes(2 * 1024 * 1024) },
      { type: 'file', name: 'b', content: 'b' },
    ]),
  );
  for await (const m of readArchive(file)) {
    assert.equal(m.path, 'a');
    break;
  }
});

for (const name of ['../x', '/abs', 'a/../../x', 'blobs/sha256/../../../etc/passwd', 'a\\b', 'ok/..']) {
  test(`a member named ${JSON.stringify(name)} fails the read`, async () => {
    await using dir = await makeTempDir();
    const file = await archiveFile(
      dir.path,
      'bad.tar',
      writeTar([
        { type: 'file', name: 'index.json', content: '{}' },
        { type: 'file', name, content: 'evil' },
      ]),
    );
    await assert.rejects(readAll(file), (e) => isBerthError(e, 'invalid-argument') && e.code === 'archive-unsafe-path');
  });
}

test('a bad name is refused even for members the parser skips (unknown types)', async () => {
  await using dir = await makeTempDir();
  const file = await archiveFile(dir.path, 'bad.tar', writeTar([{ type: 'file', name: '../weird', typeflag: 'V' }]));
  await assert.rejects(readAll(file), (e) => isBerthError(e) && e.code === 'archive-unsafe-path');
});

test('not a tar, truncated, or a broken gzip: archive-bad-tar', async () => {
  await using dir = await makeTempDir();
  const tar = writeTar([{ type: 'file', name: 'a', content: randomBytes(4096) }]);
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['text', Buffer.from('hello, this is not a tar archive\n'.repeat(40))],
    ['truncated', tar.subarray(0, 512 + 1000)],
    ['bad-gzip', Buffer.concat([gzipSync(tar).subarray(0, 100)])],
  ];
  for (const [name, bytes] of cases) {
    const file = await archiveFile(dir.path, name, bytes);
    await assert.rejects(readAll(file), (e) => isBerthError(e, 'invalid-argument') && e.code === 'archive-bad-tar', name);
  }
});

test('an aborted signal stops the read', async () => {
  await using dir = await makeTempDir();
  const file = await archiveFile(dir.path, 'a.tar', writeTar([{ type: 'file', name: 'a', content: randomBytes(4 * 1024 * 1024) }]));
  const controller = new AbortController();
  await assert.rejects(
    (async () => {
      for await (const m of readArchive(file, { signal: controller.signal })) {
        for await (const _ of m.body) controller.abort();
      }
    })(),
    (e) => isBerthError(e, 'cancelled'),
  );
});

test('archivePath and resolveLink', () => {
  assert.equal(archivePath('./a//b/./c/'), 'a/b/c');
  assert.equal(archivePath('.'), '');
  assert.throws(() => archivePath('a/\0b'), /NUL/);
  assert.equal(resolveLink('b/layer.tar', '../a/layer.tar', 'symlink'), 'a/layer.tar');
  assert.equal(resolveLink('layer.tar', 'x/y', 'symlink'), 'x/y');
  assert.equal(resolveLink('a/b', 'c/d', 'hardlink'), 'c/d');
  assert.throws(() => resolveLink('b/layer.tar', '../../x', 'symlink'), /outside/);
  assert.throws(() => resolveLink('b/layer.tar', '/etc/passwd', 'symlink'), /absolute/);
  assert.throws(() => resolveLink('b', '../x', 'hardlink'), /outside/);
});
