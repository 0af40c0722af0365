// The behaviour every ContentStore must show, fakes included. Call from a *.test.ts file:
//   contentStoreSuite('FileContentStore', async () => ({ store, dispose }))
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { type Digest, sha256Digest } from '../oci/digest.ts';
import type { ContentStore } from './content-store.ts';

export interface ContentStoreFixture {
  store: ContentStore;
  dispose(): Promise<void>;
}

async function* chunksOf(data: Uint8Array, size = 7): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

async function readAll(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

function blob(text: string): { data: Buffer; digest: Digest; size: number } {
  const data = Buffer.from(text);
  return { data, digest: sha256Digest(data), size: data.length };
}

export function contentStoreSuite(name: string, make: () => Promise<ContentStoreFixture>): void {
  const withStore = (body: (store: ContentStore) => Promise<void>) => async () => {
    const f = await make();
    try {
      await body(f.store);
    } finally {
      await f.dispose();
    }
  };

  describe(`ContentStore contract: ${name}`, () => {
    test(
      'ingest, info, readBlob, openRead, list, delete',
      withStore(async (store) => {
        const b = blob('hello, berth\n'.repeat(100));
        assert.equal(await store.info(b.digest), undefined);
        const progress: number[] = [];
        await store.ingest({ digest: b.digest, size: b.size }, chunksOf(b.data, 100), { onProgress: (n) => progress.push(n) });
        assert.equal(progress.at(-1), b.size);
        assert.deepEqual(await store.info(b.digest), { digest: b.digest, size: b.size });
        assert.deepEqual(await store.readBlob(b.digest), b.data);
        assert.deepEqual(await readAll(store.openRead(b.digest)), b.data);
        assert.deepEqual(await store.list(), [{ digest: b.digest, size: b.size }]);
        await store.delete(b.digest);
        assert.equal(await store.info(b.digest), undefined);
        assert.deepEqual(await store.list(), []);
        await store.delete(b.digest); // idempotent
      }),
    );

    test(
      'a missing blob is not-found',
      withStore(async (store) => {
        const b = blob('absent');
        await assert.rejects(store.readBlob(b.digest), (e) => isBerthError(e, 'not-found'));
        await assert.rejects(readAll(store.openRead(b.digest)), (e) => isBerthError(e, 'not-found'));
      }),
    );

    test(
      'wrong digest, short and long content are refused and leave nothing',
      withStore(async (store) => {
        const b = blob('the real content');
        const other = Buffer.from('something else!!');
        await assert.rejects(
          store.ingest({ digest: b.digest, size: other.length }, chunksOf(other)),
          (e) => isBerthError(e, 'failed-precondition') && e.code === 'digest-mismatch',
        );
        await assert.rejects(
          store.ingest({ digest: b.digest, size: b.size }, chunksOf(b.data.subarray(0, 5))),
          (e) => isBerthError(e, 'failed-precondition') && e.code === 'size-mismatch',
        );
        // Too long: must stop reading early instead of draining an endless source.
        let pulled = 0;
        async function* endless(): AsyncGenerator<Uint8Array> {
          for (;;) {
            pulled++;
            yield Buffer.alloc(1024, 1);
          }
        }
        await assert.rejects(
          store.ingest({ digest: b.digest, size: b.size }, endless()),
          (e) => isBerthError(e, 'failed-precondition') && e.code === 'size-mismatch',
        );
        assert.ok(pulled < 5, `pulled ${pulled} chunks`);
        assert.equal(await store.info(b.digest), undefined);
        assert.deepEqual(await store.list(), []);
      }),
    );

    test(
      'an aborted ingest fails with cancelled and stores nothing',
      withStore(async (store) => {
        const b = blob('x'.repeat(1000));
        const ac = new AbortController();
        async function* stalling(): AsyncGenerator<Uint8Array> {
          yield b.data.subarray(0, 10);
          ac.abort();
          await new Promise(() => {}); // never delivers more
        }
        await assert.rejects(store.ingest({ digest: b.digest, size: b.size }, stalling(), { signal: ac.signal }), (e) =>
          isBerthError(e, 'cancelled'),
        );
        assert.equal(await store.info(b.digest), undefined);
        await assert.rejects(store.ingest({ digest: b.digest, size: b.size }, chunksOf(b.data), { signal: AbortSignal.abort() }), (e) =>
          isBerthError(e, 'cancelled'),
        );
      }),
    );

    test(
      'concurrent ingests of one digest both succeed and store it once',
      withStore(async (store) => {
        const data = Buffer.alloc(256 * 1024);
        for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
        const digest = `sha256:${createHash('sha256').update(data).digest('hex')}` as Digest;
        await Promise.all(Array.from({ length: 4 }, () => store.ingest({ digest, size: data.length }, chunksOf(data, 4096))));
        assert.deepEqual(await store.list(), [{ digest, size: data.length }]);
        assert.deepEqual(await store.readBlob(digest), data);
        // Present already: a later ingest succeeds without needing the source.
        await store.ingest({ digest, size: data.length }, chunksOf(Buffer.alloc(0)));
      }),
    );

    test(
      'a malformed digest is invalid-argument',
      withStore(async (store) => {
        await assert.rejects(store.info('sha256:nothex' as Digest), (e) => isBerthError(e, 'invalid-argument'));
        await assert.rejects(store.ingest({ digest: 'md5:abc' as Digest, size: 1 }, chunksOf(Buffer.from('a'))), (e) =>
          isBerthError(e, 'invalid-argument'),
        );
      }),
    );
  });
}
