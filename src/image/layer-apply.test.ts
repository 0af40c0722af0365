import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { type TarEntry, tarEntryBlocks, writeTar } from '../../test/support/tar-writer.ts';
import { makeTempDir } from '../../test/support/tmp.ts';
import { isBerthError } from '../errors/errors.ts';
import { type Digest, sha256Digest } from '../oci/digest.ts';
import { listMountPoints, mountAll, unmount } from '../snapshot/mount.ts';
import { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.ts';
import { type ApplyLayerOptions, applyLayer, cleanupLayerApplyMounts } from './layer-apply.ts';
import { DEFAULT_LAYER_LIMITS } from './layer-limits.ts';

const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';
const ZSTD = 'application/vnd.oci.image.layer.v1.tar+zstd';
const PLAIN = 'application/vnd.oci.image.layer.v1.tar';
const DOCKER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip';

interface Env {
  /** The test's own directory: everything a test makes lives under it. */
  dir: string;
  snapshotter: OverlaySnapshotter;
  tempDir: string;
  /** Applies `tar` as layer `key` on `parent`; commits it as `key` unless `commit` is false. */
  apply(key: string, parent: string | undefined, tar: Buffer, extra?: Partial<ApplyLayerOptions>): ReturnType<typeof applyLayer>;
  /** The upper directory (own files) of an active or committed snapshot, by its numeric id. */
  fsOf(id: number): string;
}

async function withEnv(body: (env: Env) => Promise<void>): Promise<void> {
  const tmp = await makeTempDir('berth-layer-');
  // Deep enough that "../../.." from the snapshot dirs still lands inside the test directory.
  const snapRoot = path.join(tmp.path, 'a', 'b', 'c', 'snapshots-root');
  const tempDir = path.join(tmp.path, 'mnt');
  await mkdir(tempDir, { recursive: true });
  const snapshotter = await OverlaySnapshotter.open(snapRoot);
  const env: Env = {
    dir: tmp.path,
    snapshotter,
    tempDir,
    async apply(key, parent, tar, extra = {}) {
      const result = await applyLayer({
        snapshotter,
        key: `${key}-active`,
        parent,
        blob: Readable.from([tar]),
        mediaType: PLAIN,
        tempDir,
        ...extra,
      });
      await snapshotter.commit(key, `${key}-active`);
      return result;
    },
    fsOf: (id) => path.join(snapRoot, 'snapshots', String(id), 'fs'),
  };
  try {
    await body(env);
  } finally {
    for (const m of (await listMountPoints()).reverse()) {
      if (m.startsWith(tmp.path)) await unmount(m, { detach: true }).catch(() => {});
    }
    await tmp.remove();
  }
}

/** Everything under `dir` as sorted relative paths (directories with a trailing "/"). */
async function tree(dir: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(path.join(dir, rel))).sort()) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const st = await lstat(path.join(dir, r));
    if (st.isDirectory()) out.push(`${r}/`, ...(await tree(dir, r)));
    else out.push(r);
  }
  return out;
}

function getXattr(p: string, name: string): string | undefined {
  try {
    const out = execFileSync('getfattr', ['-h', '--absolute-names', '-e', 'hex', '-n', name, p], { stdio: ['ignore', 'pipe', 'ignore'] });
    return /=0x([0-9a-f]*)/.exec(out.toString())?.[1];
  } catch {
    return undefined;
  }
}

async function viewTree(env: Env, parent: string): Promise<string[]> {
  const target = path.join(env.dir, 'view');
  await mkdir(target, { recursive: true });
  const key = `view-${Math.random()}`;
  await mountAll(await env.snapshotter.view(key, parent), target);
  try {
    return await tree(target);
  } finally {
    await unmount(target);
    await env.snapshotter.remove(key);
  }
}

/** Asserts a layer is refused with `code`, and that nothing at all is left behind. */
async function assertRefused(env: Env, tar: Buffer, code: string, parent?: string, extra: Partial<ApplyLayerOptions> = {}): Promise<void> {
  const before = (await env.snapshotter.list()).map((i) => i.key).sort();
  await assert.rejects(
    applyLayer({
      snapshotter: env.snapshotter,
      key: 'refused',
      parent,
      blob: Readable.from([tar]),
      mediaType: PLAIN,
      tempDir: env.tempDir,
      ...extra,
    }),
    (e) => {
      assert.ok(isBerthError(e), String(e));
      assert.equal(e.code, code, e.message);
      return true;
    },
  );
  assert.deepEqual((await env.snapshotter.list()).map((i) => i.key).sort(), before, 'no snapshot left');
  assert.deepEqual(await readdir(env.tempDir), [], 'no temporary mount directory left');
  assert.deepEqual(
    (await listMountPoints()).filter((m) => m.startsWith(env.dir)),
    [],
    'no mount left',
  );
}

const file = (name: string, content = name, extra: Partial<TarEntry> = {}): TarEntry => ({ type: 'file', name, content, ...extra });
const dir = (name: string, extra: Partial<TarEntry> = {}): TarEntry => ({ type: 'dir', name, ...extra });

test('a first layer: every kind of entry with owners, modes, times, xattrs; diffID of the tar', async () => {
  await withEnv(async (env) => {
    const capability = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep, with NUL bytes
    const tar = writeTar([
      dir('./', { mode: 0o755 }),
      dir('etc/', { mode: 0o755, mtime: 1_000_000 }),
      file('etc/hostname', 'box\n', { mode: 0o644, uid: 1000, gid: 1001, mtime: 1_500_000_000 }),
      file('bin/ping', 'ELF', { mode: 0o4755, xattrs: { 'security.capability': capability, 'user.note': 'hello' } }),
      dir('tmp/', { mode: 0o1777, mtime: 1_234 }),
      { type: 'symlink', name: 'etc/localtime', linkname: '/usr/share/zoneinfo/UTC', uid: 7, gid: 8, mtime: 99 },
      { type: 'hardlink', name: 'bin/ping6', linkname: 'bin/ping' },
      { type: 'fifo', name: 'run/fifo', mode: 0o600 },
      { type: 'char', name: 'dev/null', mode: 0o666, devmajor: 1, devminor: 3 },
      { type: 'block', name: 'dev/loop9', mode: 0o660, devmajor: 7, devminor: 9 },
      file(`deep/${'n'.repeat(120)}/${'m'.repeat(120)}`, 'long name'),
    ]);
    const result = await applyLayer({
      snapshotter: env.snapshotter,
      key: 'l1-active',
      parent: undefined,
      blob: Readable.from([tar]),
      mediaType: PLAIN,
      tempDir: env.tempDir,
    });
    assert.equal(result.diffId, sha256Digest(tar));
    assert.equal(result.size, tar.length);
    assert.equal(result.compression, 'none');
    assert.deepEqual(result.warnings, []);
    const fs = env.fsOf(1);
    const st = (p: string): Promise<Stats> => lstat(path.join(fs, p));
    const hostname = await st('etc/hostname');
    assert.equal(await readFile(path.join(fs, 'etc/hostname'), 'utf8'), 'box\n');
    assert.equal(hostname.mode & 0o7777, 0o644);
    assert.equal(hostname.uid, 1000);
    assert.equal(hostname.gid, 1001);
    assert.equal(hostname.mtimeMs, 1_500_000_000_000);
    assert.equal((await st('bin/ping')).mode & 0o7777, 0o4755, 'setuid kept (chmod after chown)');
    assert.equal(getXattr(path.join(fs, 'bin/ping'), 'security.capability'), capability.toString('hex'));
    assert.equal(getXattr(path.join(fs, 'bin/ping'), 'user.note'), Buffer.from('hello').toString('hex'));
    assert.equal((await st('bin/ping6')).ino, (await st('bin/ping')).ino);
    const tmpDir = await st('tmp');
    assert.equal(tmpDir.mode & 0o7777, 0o1777);
    assert.equal(tmpDir.mtimeMs, 1_234_000);
    assert.equal((await st('etc')).mtimeMs, 1_000_000_000, 'directory times are set after their children');
    const localtime = await st('etc/localtime');
    assert.ok(localtime.isSymbolicLink());
    assert.equal(await readlink(path.join(fs, 'etc/localtime')), '/usr/share/zoneinfo/UTC');
    assert.equal(localtime.uid, 7);
    assert.equal(localtime.mtimeMs, 99_000);
    assert.ok((await st('run/fifo')).isFIFO());
    const devNull = await st('dev/null');
    assert.ok(devNull.isCharacterDevice());
    assert.equal(devNull.rdev, (1 << 8) | 3);
    assert.equal(devNull.mode & 0o7777, 0o666);
    const loop = await st('dev/loop9');
    assert.ok(loop.isBlockDevice());
    assert.equal(loop.rdev, (7 << 8) | 9);
    assert.equal(await readFile(path.join(fs, `deep/${'n'.repeat(120)}/${'m'.repeat(120)}`), 'utf8'), 'long name');
    assert.equal((await st('run')).mode & 0o7777, 0o755, 'missing parents are made 0755');
  });
});

test('gzip, zstd, plain, docker media type, mislabelled and unlabelled: same diffID', async () => {
  await withEnv(async (env) => {
    const tar = writeTar([file('a', 'x'.repeat(100_000)), dir('d/'), file('d/b', 'b')]);
    const diffId = sha256Digest(tar);
    const cases: [string, Buffer, string | undefined, string][] = [
      ['plain', tar, PLAIN, 'none'],
      ['gzip', gzipSync(tar), GZIP, 'gzip'],
      ['zstd', zstdCompressSync(tar), ZSTD, 'zstd'],
      ['docker', gzipSync(tar), DOCKER_GZIP, 'gzip'],
      ['nolabel', zstdCompressSync(tar), undefined, 'zstd'],
      ['mislabelled', gzipSync(tar), PLAIN, 'gzip'],
    ];
    for (const [key, blob, mediaType, compression] of cases) {
      // Many small chunks: headers and data straddle chunk boundaries.
      const chunks: Buffer[] = [];
      for (let i = 0; i < blob.length; i += 333) chunks.push(blob.subarray(i, i + 333));
      const r = await applyLayer({ snapshotter: env.snapshotter, key, blob: Readable.from(chunks), mediaType, tempDir: env.tempDir });
      assert.equal(r.diffId, diffId, key);
      assert.equal(r.size, tar.length, key);
      assert.equal(r.compression, compression, key);
      assert.equal(r.warnings.length, key === 'mislabelled' ? 1 : 0, key);
      const [m] = await env.snapshotter.mounts(key);
      assert.deepEqual(await tree(m!.source), ['a', 'd/', 'd/b'], key);
    }
    await assertRefused(env, gzipSync(tar).subarray(0, 200), 'layer-bad-compression');
    await assert.rejects(
      applyLayer({ snapshotter: env.snapshotter, key: 'enc', blob: Readable.from([tar]), mediaType: `${GZIP}+encrypted` }),
      (e) => isBerthError(e, 'invalid-argument') && e.code === 'unsupported-layer-media-type',
    );
  });
});

test('the diffID covers bytes after the end-of-archive blocks; a tar without them is fine', async () => {
  await withEnv(async (env) => {
    // GNU tar pads archives to a 10 KiB record.
    const tar = Buffer.concat([writeTar([file('a')]), Buffer.alloc(10_240 - 3 * 512)]);
    const r = await env.apply('padded', undefined, tar);
    assert.equal(r.diffId, sha256Digest(tar));
    assert.equal(r.size, tar.length);
    const bare = writeTar([file('b')], { end: false });
    assert.equal((await env.apply('bare', undefined, bare)).diffId, sha256Digest(bare));
    const empty = Buffer.alloc(0);
    assert.equal((await env.apply('empty', undefined, empty)).diffId, sha256Digest(empty));
  });
});

test('whiteouts and opaque directories through the kernel: hidden lower entries stay hidden', async () => {
  await withEnv(async (env) => {
    await env.apply(
      'l1',
      undefined,
      writeTar([
        file('gone'),
        file('kept'),
        dir('opq/'),
        file('opq/old1'),
        dir('opq/sub/'),
        file('opq/sub/old2'),
        dir('keep/', { mode: 0o755 }),
        file('keep/k'),
        dir('removed-dir/'),
        file('removed-dir/x'),
        dir('late/'),
        file('late/old'),
        { type: 'symlink', name: 'link-to-dir', linkname: 'keep' },
      ]),
    );
    const l2 = await env.apply(
      'l2',
      'l1',
      writeTar([
        file('.wh.gone', ''),
        dir('opq/', { mode: 0o700 }),
        file('opq/.wh..wh..opq', ''),
        file('opq/new'),
        dir('keep/', { mode: 0o750 }), // an existing directory: attributes change, content stays
        file('keep/k2'),
        file('.wh.removed-dir', ''),
        dir('removed-dir/'), // re-created after a whiteout: the kernel makes it opaque
        file('removed-dir/fresh'),
        file('late/mine'), // written before the marker that follows: it stays
        file('late/.wh..wh..opq', ''),
        file('.wh.link-to-dir', ''), // removes the symlink, not what it points to
        file('.wh.never-existed', ''),
        { type: 'hardlink', name: 'kept-link', linkname: 'kept' }, // to a lower file: overlay copies it up
      ]),
    );
    assert.deepEqual(l2.warnings, []);
    const upper = env.fsOf(2);
    const isWhiteout = async (p: string) => {
      const st = await lstat(path.join(upper, p));
      return st.isCharacterDevice() && st.rdev === 0;
    };
    assert.ok(await isWhiteout('gone'));
    assert.ok(await isWhiteout('opq/old1'));
    assert.ok(await isWhiteout('opq/sub'));
    assert.ok(await isWhiteout('late/old'));
    assert.ok(await isWhiteout('link-to-dir'));
    assert.equal(getXattr(path.join(upper, 'removed-dir'), 'trusted.overlay.opaque'), Buffer.from('y').toString('hex'));
    assert.equal(getXattr(path.join(upper, 'keep'), 'trusted.overlay.opaque'), undefined, 'an existing dir is not made opaque');
    assert.equal((await lstat(path.join(upper, 'opq'))).mode & 0o7777, 0o700);
    assert.equal((await lstat(path.join(upper, 'kept'))).ino, (await lstat(path.join(upper, 'kept-link'))).ino);

    // A later layer on top, then a view of all three: nothing hidden shows through.
    await env.apply('l3', 'l2', writeTar([file('opq/third'), file('top')]));
    assert.deepEqual(await viewTree(env, 'l3'), [
      'keep/',
      'keep/k',
      'keep/k2',
      'kept',
      'kept-link',
      'late/',
      'late/mine',
      'opq/',
      'opq/new',
      'opq/third',
      'removed-dir/',
      'removed-dir/fresh',
      'top',
    ]);
  });
});

test('path escapes refuse the whole layer and leave nothing behind', async () => {
  await withEnv(async (env) => {
    await env.apply('base', undefined, writeTar([dir('etc/'), file('etc/passwd', 'root:x:0:0'), dir('usr/')]));
    const outside = path.join(env.dir, 'a', 'b', 'outside');
    await mkdir(outside, { recursive: true });
    const evil: [string, TarEntry[]][] = [
      ['dotdot', [file('ok'), file('../evil')]],
      ['dotdot-deep', [file('usr/../../evil')]],
      ['absolute-dotdot', [file('/etc/../../x')]],
      ['symlink-absolute-up', [{ type: 'symlink', name: 'a', linkname: '/../../..' }, file('a/x')]],
      ['symlink-relative-up', [{ type: 'symlink', name: 'usr/up', linkname: '../..' }, file('usr/up/x')]],
      [
        'symlink-chain',
        [{ type: 'symlink', name: 'one', linkname: 'etc/two' }, { type: 'symlink', name: 'etc/two', linkname: '../../..' }, file('one/x')],
      ],
      ['hardlink-up', [{ type: 'hardlink', name: 'h', linkname: '../../etc/passwd' }]],
      [
        'hardlink-through-symlink',
        [
          { type: 'symlink', name: 's', linkname: '../../../..' },
          { type: 'hardlink', name: 'h', linkname: 's/etc/passwd' },
        ],
      ],
      ['whiteout-through-symlink', [{ type: 'symlink', name: 's', linkname: '/../outside' }, file('s/.wh.victim', '')]],
      ['dir-through-symlink', [{ type: 'symlink', name: 's', linkname: '/..' }, dir('s/newdir/')]],
    ];
    for (const [label, entries] of evil) {
      await assertRefused(env, writeTar(entries), 'layer-path-escape', undefined).catch((e: unknown) => {
        throw new Error(`${label} (first layer): ${String(e)}`);
      });
      await assertRefused(env, writeTar(entries), 'layer-path-escape', 'base').catch((e: unknown) => {
        throw new Error(`${label} (on a parent): ${String(e)}`);
      });
    }
    // Nothing landed anywhere in the test directory beyond what the snapshots and we made.
    const all = await tree(env.dir);
    assert.deepEqual(
      all.filter((p) => /(^|\/)(evil|x|h|newdir)$/.test(p)),
      [],
    );
    assert.deepEqual(await readdir(outside), []);
    assert.deepEqual(
      (await env.snapshotter.list()).map((i) => i.key),
      ['base'],
    );
  });
});

test('names that stay inside are normalised, symlinks inside the root are followed safely', async () => {
  await withEnv(async (env) => {
    const hostTmpName = `berth-should-not-exist-${process.pid}`;
    await env.apply(
      'l1',
      undefined,
      writeTar([
        file('/abs'),
        file('./dot'),
        file('x/../y'), // folded by name, like Docker's filepath.Clean: no "x" is made
        { type: 'symlink', name: 'l', linkname: '/tmp' }, // absolute: means <root>/tmp
        file(`l/${hostTmpName}`, 'inside'),
        dir('real/'),
        { type: 'symlink', name: 'rel', linkname: 'real' },
        file('rel/f', 'via rel'),
        { type: 'symlink', name: 'loop-up', linkname: 'real/../real/.' },
        file('loop-up/g', 'g'),
        { type: 'hardlink', name: 'hl', linkname: 'rel/f' },
      ]),
    );
    const fs = env.fsOf(1);
    assert.equal(await readFile(path.join(fs, 'tmp', hostTmpName), 'utf8'), 'inside');
    await assert.rejects(lstat(path.join('/tmp', hostTmpName)), /ENOENT/);
    assert.deepEqual(await tree(fs), [
      'abs',
      'dot',
      'hl',
      'l',
      'loop-up',
      'real/',
      'real/f',
      'real/g',
      'rel',
      'tmp/',
      `tmp/${hostTmpName}`,
      'y',
    ]);
    assert.equal((await lstat(path.join(fs, 'hl'))).ino, (await lstat(path.join(fs, 'real/f'))).ino);
  });
});

test('a regular file or directory over an existing symlink replaces it, never writes through it', async () => {
  await withEnv(async (env) => {
    const hostFile = path.join(env.dir, 'host-file');
    const hostDir = path.join(env.dir, 'host-dir');
    await writeFile(hostFile, 'precious');
    await mkdir(hostDir);
    const links = writeTar([
      { type: 'symlink', name: 'f', linkname: hostFile },
      { type: 'symlink', name: 'd', linkname: hostDir },
      { type: 'symlink', name: 'n', linkname: hostFile },
    ]);
    const over = writeTar([
      file('f', 'replaced', { mode: 0o600, uid: 5 }),
      dir('d/', { mode: 0o700 }),
      file('d/inside', 'inside'),
      { type: 'fifo', name: 'n' },
    ]);
    // In one layer (plain directory) …
    await env.apply('one', undefined, Buffer.concat([links.subarray(0, links.length - 1024), over]));
    // … and across layers (through an overlay mount).
    await env.apply('lower', undefined, links);
    await env.apply('upper', 'lower', over);
    for (const fs of [env.fsOf(1), env.fsOf(3)]) {
      assert.ok((await lstat(path.join(fs, 'f'))).isFile());
      assert.equal(await readFile(path.join(fs, 'f'), 'utf8'), 'replaced');
      assert.ok((await lstat(path.join(fs, 'd'))).isDirectory());
      assert.ok((await lstat(path.join(fs, 'n'))).isFIFO());
    }
    assert.equal(await readFile(hostFile, 'utf8'), 'precious');
    assert.equal((await lstat(hostFile)).mode & 0o777, 0o644);
    assert.deepEqual(await readdir(hostDir), []);
  });
});

test('malformed layers are refused cleanly, also on a parent (mounted) and when cancelled', async () => {
  await withEnv(async (env) => {
    await env.apply('base', undefined, writeTar([file('a')]));
    const good = writeTar([file('one', 'x'.repeat(2000)), file('two')]);
    await assertRefused(env, good.subarray(0, 1000), 'layer-bad-tar', 'base'); // truncated data
    const badSum = Buffer.from(good);
    badSum[0] = 0x41;
    await assertRefused(env, badSum, 'layer-bad-tar', 'base');
    await assertRefused(env, writeTar([{ type: 'file', name: 'sparse', typeflag: 'S' }]), 'layer-unsupported-entry', 'base');
    await assertRefused(env, writeTar([{ type: 'char', name: 'wh', devmajor: 0, devminor: 0 }]), 'layer-bad-entry', 'base');
    await assertRefused(env, writeTar([{ type: 'hardlink', name: 'h', linkname: 'missing' }]), 'layer-bad-entry', 'base');
    await assertRefused(env, writeTar([file('a'), file('a/b')]), 'layer-bad-entry', 'base');
    await assertRefused(
      env,
      writeTar([{ type: 'symlink', name: 'p', linkname: 'q' }, { type: 'symlink', name: 'q', linkname: 'p' }, file('p/x')]),
      'layer-symlink-loop',
      'base',
    );
    await assertRefused(env, writeTar([file('ok'), { type: 'symlink', name: 'l', linkname: '' }]), 'layer-bad-entry', 'base');

    // Cancelled half-way through a stalled stream.
    const ac = new AbortController();
    async function* stalled(): AsyncGenerator<Uint8Array> {
      yield good.subarray(0, 1536);
      setTimeout(() => ac.abort(), 20);
      await new Promise((resolve) => setTimeout(resolve, 10_000).unref());
    }
    await assert.rejects(
      applyLayer({
        snapshotter: env.snapshotter,
        key: 'cancelled',
        parent: 'base',
        blob: stalled(),
        signal: ac.signal,
        tempDir: env.tempDir,
      }),
      (e) => isBerthError(e, 'cancelled'),
    );
    assert.deepEqual(
      (await env.snapshotter.list()).map((i) => i.key),
      ['base'],
    );
    assert.deepEqual(await readdir(env.tempDir), []);
    assert.deepEqual(
      (await listMountPoints()).filter((m) => m.startsWith(env.dir)),
      [],
    );

    // A wrong expected diffID.
    await assert.rejects(
      applyLayer({
        snapshotter: env.snapshotter,
        key: 'wrong',
        parent: 'base',
        blob: Readable.from([good]),
        expectedDiffId: sha256Digest('not this') as Digest,
        tempDir: env.tempDir,
      }),
      (e) => isBerthError(e, 'failed-precondition') && e.code === 'diff-id-mismatch',
    );
    assert.deepEqual(
      (await env.snapshotter.list()).map((i) => i.key),
      ['base'],
    );
    // The key is free again: a retry succeeds.
    const ok = await applyLayer({
      snapshotter: env.snapshotter,
      key: 'wrong',
      parent: 'base',
      blob: Readable.from([good]),
      expectedDiffId: sha256Digest(good),
      tempDir: env.tempDir,
    });
    assert.equal(ok.diffId, sha256Digest(good));
  });
});

test('PAX and GNU long names, PAX times and owners; overlay-private xattrs are skipped', async () => {
  await withEnv(async (env) => {
    const long = `${'d'.repeat(150)}/${'f'.repeat(150)}`;
    const gnuName = `${'g'.repeat(200)}/file`;
    const tar = Buffer.concat([
      tarEntryBlocks(file(long, 'pax name'), { forcePax: true }),
      tarEntryBlocks({ type: 'file', name: '././@LongLink', typeflag: 'L', content: `${gnuName}\0` }),
      tarEntryBlocks(file(gnuName.slice(0, 99), 'gnu name')),
      tarEntryBlocks(file('big-ids', 'x', { uid: 3_000_000_000, gid: 70_000, mtime: 1_700_000_000.25 })),
      tarEntryBlocks(file('forged', '', { xattrs: { 'trusted.overlay.opaque': 'y', 'trusted.overlay.redirect': '/etc' } })),
      Buffer.alloc(1024),
    ]);
    const r = await env.apply('l', undefined, tar);
    assert.equal(r.warnings.length, 2);
    const fs = env.fsOf(1);
    assert.equal(await readFile(path.join(fs, long), 'utf8'), 'pax name');
    assert.equal(await readFile(path.join(fs, gnuName), 'utf8'), 'gnu name');
    const st = await lstat(path.join(fs, 'big-ids'));
    assert.equal(st.uid, 3_000_000_000);
    assert.equal(st.gid, 70_000);
    assert.equal(st.mtimeMs, 1_700_000_000_250);
    assert.equal(getXattr(path.join(fs, 'forged'), 'trusted.overlay.opaque'), undefined);
  });
});

test('an xattr the filesystem refuses fails the layer clearly', async () => {
  await withEnv(async (env) => {
    // user.* attributes are not allowed on symlinks (EPERM), and this one is not security.*.
    await assertRefused(env, writeTar([{ type: 'symlink', name: 'l', linkname: 't', xattrs: { 'user.x': '1' } }]), 'layer-xattr-failed');
  });
});

test('xattrs of names with spaces, newlines, "#" and backslashes are set with one setfattr each', async () => {
  await withEnv(async (env) => {
    const odd = 'a b\n=#\\c';
    await env.apply(
      'odd',
      undefined,
      writeTar([file(odd, 'x', { xattrs: { 'user.one': 'v1', 'user.t#w\\o': Buffer.from([0, 10, 255]) } })]),
    );
    const p = path.join(env.fsOf(1), odd);
    assert.equal(getXattr(p, 'user.one'), Buffer.from('v1').toString('hex'));
    assert.equal(getXattr(p, 'user.t#w\\o'), '000aff');
  });
});

test('the layer limits: size, entries, path depth, entry metadata and the free-space reserve', async () => {
  await withEnv(async (env) => {
    const limits = { ...DEFAULT_LAYER_LIMITS };
    const big = writeTar([file('big', 'x'.repeat(8192))]);
    await assertRefused(env, big, 'layer-too-large', undefined, { limits: { ...limits, maxLayerBytes: 4096 } });
    const many = writeTar([file('a'), file('b'), file('c')]);
    await assertRefused(env, many, 'layer-too-many-entries', undefined, { limits: { ...limits, maxEntries: 2 } });
    await assertRefused(env, writeTar([file('a/b/c/d')]), 'layer-path-too-deep', undefined, { limits: { ...limits, maxPathDepth: 3 } });
    // Three PAX headers of 40 KiB each before one entry: each below the limit, together above it.
    const record = `40975 comment=${'c'.repeat(40 * 1024)}\n`;
    assert.equal(Buffer.byteLength(record), 40975);
    const pax = tarEntryBlocks({ type: 'file', typeflag: 'x', name: 'PaxHeaders/p', content: record });
    const flood = Buffer.concat([pax, pax, pax, writeTar([file('victim')])]);
    await assertRefused(env, flood, 'layer-entry-metadata-too-large', undefined, {
      limits: { ...limits, maxEntryMetadataBytes: 100 * 1024 },
    });
    const free = await statfs(env.dir);
    const reserve = free.bavail * free.bsize + 1024 ** 3;
    await assertRefused(env, writeTar([file('f')]), 'image-fs-reserve', undefined, { limits: { ...limits, minFreeBytes: reserve } });
  });
});

test('the diffID is the sha256 of the uncompressed stream', () => {
  const tar = writeTar([file('z')]);
  assert.equal(sha256Digest(tar), `sha256:${createHash('sha256').update(tar).digest('hex')}`);
});

test('cleanupLayerApplyMounts takes down mounts a killed daemon left', async () => {
  await withEnv(async (env) => {
    const left = path.join(env.tempDir, 'berth-apply-abc123');
    const other = path.join(env.tempDir, 'unrelated');
    await mkdir(left);
    await mkdir(other);
    await mountAll([{ type: 'bind', source: env.dir, options: ['rbind', 'ro'] }], left);
    await cleanupLayerApplyMounts(env.tempDir);
    assert.deepEqual(await readdir(env.tempDir), ['unrelated']);
    assert.deepEqual(
      (await listMountPoints()).filter((m) => m.startsWith(env.dir)),
      [],
    );
    await cleanupLayerApplyMounts(path.join(env.dir, 'missing'));
  });
});
