import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { Images, type PullImageEvent } from '../cri-api/gen/berth/v1/images_pb.js';
import { failedPrecondition, isBerthError } from '../errors/errors.ts';
import type { ImageRecord } from '../image/image-store.ts';
import type { AuthConfig } from '../image/registry/auth.ts';
import type { Digest } from '../oci/digest.ts';
import { type BerthImagesDeps, berthImagesHandlers, EventQueue } from './berth-images-service.ts';
import { addService, makeClient, type ServiceClient } from './grpc-service.ts';

const ID = `sha256:${'c'.repeat(64)}` as Digest;
const LAYER = `sha256:${'d'.repeat(64)}` as Digest;

function record(repoTags: string[], repoDigests: string[] = []): ImageRecord {
  return {
    id: ID,
    repoTags,
    repoDigests,
    manifest: { digest: ID, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 },
    config: { digest: ID, size: 1 },
    layers: [],
    chainIds: [],
    contentRefs: [],
    size: 1,
    pinned: false,
    pulledAt: 0,
  };
}

let dir: string;
let server: grpc.Server;
let client: ServiceClient<typeof Images.method>;
const calls: { importArchive: [string, string | undefined][]; pull: [string, AuthConfig | undefined][] } = { importArchive: [], pull: [] };

let slowAborted!: () => void;
const sawSlowAbort = new Promise<void>((resolve) => (slowAborted = resolve));

const deps: BerthImagesDeps = {
  async importArchive(path, baseName) {
    calls.importArchive.push([path, baseName]);
    if (path === '/bad.tar') throw failedPrecondition('digest-mismatch', 'blob does not match');
    return [record(['docker.io/library/a:1'], [`docker.io/library/a@${ID}`])];
  },
  async pull(ref, auth, signal, onEvent) {
    calls.pull.push([ref, auth]);
    if (ref === 'slow') {
      await new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          slowAborted();
          reject(signal.reason);
        }),
      );
    }
    onEvent({ kind: 'resolved', reference: 'docker.io/library/busybox:latest', digest: ID, layers: [{ digest: LAYER, size: 300 }] });
    onEvent({ kind: 'layer', digest: LAYER, phase: 'downloading', written: 100, total: 300 });
    onEvent({ kind: 'layer', digest: LAYER, phase: 'downloading', written: 300, total: 300 });
    onEvent({ kind: 'layer', digest: LAYER, phase: 'done', written: 300, total: 300 });
    if (ref === 'broken') throw failedPrecondition('diff-id-mismatch', 'layer is not what the config says');
    return record(['docker.io/library/busybox:latest']);
  },
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-images-svc-'));
  server = new grpc.Server();
  addService(server, Images, berthImagesHandlers(deps));
  const socket = join(dir, 'berth.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  client = makeClient(Images, `unix://${socket}`);
});

after(async () => {
  client.close();
  await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

test('Import: path and base name in, images out; errors keep their code', async () => {
  const res = await client.import({ path: '/tmp/a.tar', baseName: 'app' });
  assert.deepEqual(
    res.images.map((i) => ({ id: i.id, repoTags: i.repoTags, repoDigests: i.repoDigests })),
    [{ id: ID, repoTags: ['docker.io/library/a:1'], repoDigests: [`docker.io/library/a@${ID}`] }],
  );
  await client.import({ path: '/tmp/b.tar' });
  assert.deepEqual(calls.importArchive, [
    ['/tmp/a.tar', 'app'],
    ['/tmp/b.tar', undefined],
  ]);
  await assert.rejects(client.import({ path: '/bad.tar' }), (e) => isBerthError(e, 'failed-precondition') && e.code === 'digest-mismatch');
  await assert.rejects(client.import({ path: 'relative.tar' }), (e) => isBerthError(e, 'invalid-argument'));
  await assert.rejects(client.import({}), (e) => isBerthError(e, 'invalid-argument'));
});

test('Pull streams resolved, layer progress and done; credentials pass through', async () => {
  const events: PullImageEvent[] = [];
  for await (const e of client.pull({ image: 'busybox', auth: { username: 'u', password: 'p' } })) events.push(e);
  assert.deepEqual(calls.pull.at(-1), ['busybox', { username: 'u', password: 'p' }]);
  assert.equal(events[0]?.event.case, 'resolved');
  const resolved = events[0]?.event.value as { digest: string; layers: { digest: string; size: bigint }[] };
  assert.equal(resolved.digest, ID);
  assert.deepEqual(
    resolved.layers.map((l) => [l.digest, l.size]),
    [[LAYER, 300n]],
  );
  const layers = events.filter((e) => e.event.case === 'layer').map((e) => e.event.value as { phase: string; written: bigint });
  assert.equal(layers.at(-1)?.phase, 'done');
  assert.ok(layers.some((l) => l.phase === 'downloading' && l.written === 300n));
  const last = events.at(-1)!.event;
  assert.deepEqual([last.case, (last.value as { imageRef: string }).imageRef], ['done', ID]);
});

test('Pull: a failure after some events reaches the client as its error', async () => {
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of client.pull({ image: 'broken' })) seen.push(e.event.case ?? '');
    })(),
    (e) => isBerthError(e, 'failed-precondition') && e.code === 'diff-id-mismatch',
  );
  assert.equal(seen[0], 'resolved');
  assert.ok(!seen.includes('done'));
  await assert.rejects(
    (async () => {
      for await (const _ of client.pull({ image: ' ' })) {
      }
    })(),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test('Pull: a client that cancels cancels the pull', async () => {
  const controller = new AbortController();
  const run = (async () => {
    for await (const _ of client.pull({ image: 'slow' }, { signal: controller.signal })) {
    }
  })();
  setTimeout(() => controller.abort(), 50);
  await assert.rejects(run, (e) => isBerthError(e, 'cancelled'));
  await sawSlowAbort; // the server's pull saw the client go
});

test('EventQueue keeps only the newest unread progress of a layer and phase', async () => {
  const q = new EventQueue();
  const progress = (written: number, phase = 'downloading') => ({
    event: { case: 'layer' as const, value: { digest: LAYER, phase, written: BigInt(written), total: 10n } },
  });
  q.push(progress(1));
  q.push(progress(2));
  q.push(progress(3));
  q.push(progress(10, 'done'));
  q.close();
  const out: bigint[] = [];
  for await (const e of q) out.push((e.event!.value as { written: bigint }).written);
  assert.deepEqual(out, [3n, 10n]);
});
