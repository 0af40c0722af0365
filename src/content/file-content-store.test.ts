import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { sha256Digest } from '../oci/digest.ts';
import { contentStoreSuite } from './content-store.suite.ts';
import { FileContentStore } from './file-content-store.ts';

async function tempRoot(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'berth-content-'));
}

contentStoreSuite('FileContentStore', async () => {
  const root = await tempRoot();
  return { store: new FileContentStore(root), dispose: () => rm(root, { recursive: true, force: true }) };
});

async function* once(data: Uint8Array): AsyncGenerator<Uint8Array> {
  yield data;
}

test('layout: blobs/sha256/<hex>, and no temp file remains', async () => {
  const root = await tempRoot();
  try {
    const store = new FileContentStore(root);
    const data = Buffer.from('layout');
    const digest = sha256Digest(data);
    await store.ingest({ digest, size: data.length }, once(data));
    const file = path.join(root, 'blobs', 'sha256', digest.slice('sha256:'.length));
    assert.equal(store.blobPath(digest), file);
    assert.equal((await stat(file)).size, data.length);
    assert.deepEqual(await readdir(path.join(root, 'ingest')), []);
    await assert.rejects(store.ingest({ digest, size: 1 + data.length }, once(Buffer.from('layoutX'))));
    assert.deepEqual(await readdir(path.join(root, 'ingest')), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('an aborted ingest removes its temp file before it rejects', async () => {
  const root = await tempRoot();
  try {
    const store = new FileContentStore(root);
    const data = Buffer.alloc(100, 7);
    const ac = new AbortController();
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield data.subarray(0, 50);
      setTimeout(() => ac.abort(), 10);
      await new Promise((resolve) => setTimeout(resolve, 10_000).unref());
      yield data.subarray(50);
    }
    await assert.rejects(store.ingest({ digest: sha256Digest(data), size: 100 }, slow(), { signal: ac.signal }), (e) =>
      isBerthError(e, 'cancelled'),
    );
    assert.deepEqual(await readdir(path.join(root, 'ingest')), []);
    const timeout = AbortSignal.timeout(5);
    await new Promise((resolve) => timeout.addEventListener('abort', resolve, { once: true }));
    await assert.rejects(store.ingest({ digest: sha256Digest(data), size: 100 }, once(data), { signal: timeout }), (e) =>
      isBerthError(e, 'deadline-exceeded'),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('cleanupIngests removes leftovers of dead processes, keeps live ingests', async () => {
  const root = await tempRoot();
  try {
    const store = new FileContentStore(root);
    await store.list(); // nothing yet
    const data = Buffer.from('warm-up');
    await store.ingest({ digest: sha256Digest(data), size: data.length }, once(data));
    const ingestDir = path.join(root, 'ingest');
    // A dead pid (pid_max is at most 2^22) and a name without pid: both stale.
    await writeFile(path.join(ingestDir, '99999999-0011223344556677'), 'half');
    await writeFile(path.join(ingestDir, 'garbage'), 'x');
    // Another live process (our parent) owns this one.
    const live = `${process.ppid}-8899aabbccddeeff`;
    await writeFile(path.join(ingestDir, live), 'in progress');
    // One of ours, running now.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const big = Buffer.alloc(64, 3);
    async function* held(): AsyncGenerator<Uint8Array> {
      yield big.subarray(0, 32);
      await gate;
      yield big.subarray(32);
    }
    const running = store.ingest({ digest: sha256Digest(big), size: big.length }, held());
    while ((await readdir(ingestDir)).length < 4) await new Promise((r) => setTimeout(r, 5)); // its temp file is there
    const before = await readdir(ingestDir);
    assert.equal(before.length, 4);
    await store.cleanupIngests();
    const after = await readdir(ingestDir);
    assert.equal(after.length, 2);
    assert.ok(after.includes(live));
    release();
    await running;
    assert.deepEqual(await readdir(ingestDir), [live]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('readBlob notices a blob corrupted on disk', async () => {
  const root = await tempRoot();
  try {
    const store = new FileContentStore(root);
    const data = Buffer.from('{"schemaVersion":2}');
    const digest = sha256Digest(data);
    await store.ingest({ digest, size: data.length }, once(data));
    await rm(store.blobPath(digest));
    await writeFile(store.blobPath(digest), '{"schemaVersion":3}');
    await assert.rejects(store.readBlob(digest), (e) => isBerthError(e, 'internal') && e.code === 'blob-corrupt');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
