// The dockershim's ImageService against a real Docker Engine and real registries on loopback:
// pulls through mirrors under the asked name, credentials, errors, removal, lists, ImageFsInfo,
// a cancelled pull, an engine that goes down, and the same operations over a real gRPC server.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { connectCri } from '../../src/cri/cri-client.ts';
import { criBindings, startCriServer } from '../../src/cri/server.ts';
import {
  ImageFsInfoRequestSchema,
  ImageStatusRequestSchema,
  ListImagesRequestSchema,
  PullImageRequestSchema,
  RemoveImageRequestSchema,
} from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import type { ImageOperations } from '../../src/cri-api/operations.ts';
import { connectDockerEngine, type DockerEngine } from '../../src/docker/docker-engine.ts';
import { dockerImageOperations } from '../../src/docker/docker-image-operations.ts';
import { BerthError, type ErrorKind } from '../../src/errors/errors.ts';
import { createLogger } from '../../src/util/logger.ts';
import { sleep } from '../../src/util/sleep.ts';
import { expectCriError, setUpAndTearDown } from '../support/cri-test.ts';
import { startDockerEngine, type TestDockerEngine } from '../support/docker-engine.ts';
import { busyboxLikeImage, type PushResult, pushImage, tinyImage } from '../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTamperingProxy, type TamperingProxy } from '../support/tampering-proxy.ts';
import { makeTempDir } from '../support/tmp.ts';

const MIRRORED = 'registry.images.test';
const PRIVATE = 'private.images.test';
const SLOW = 'slow.images.test';
const USER = 'alice';
const PASSWORD = 's3cret-Pa55';

let engine: TestDockerEngine;
let docker: DockerEngine;
let registry: TestRegistry;
let authRegistry: TestRegistry;
let proxy: TamperingProxy;
let ops: ImageOperations;
let busybox: PushResult;
let asked: string;

setUpAndTearDown(
  async () => {
    registry = await startRegistry();
    authRegistry = await startRegistry({ auth: { username: USER, password: PASSWORD } });
    proxy = await startTamperingProxy(registry);
    engine = await startDockerEngine();
    docker = await connectDockerEngine(engine.host);
    busybox = await pushImage(registry, 'lib/busybox:1', busyboxLikeImage());
    asked = `${MIRRORED}/lib/busybox:1`;
    ops = dockerImageOperations({
      engine: docker,
      registries: {
        [MIRRORED]: { mirrors: [registry.url], insecure: false },
        [PRIVATE]: { mirrors: [authRegistry.url], insecure: false },
        [SLOW]: { mirrors: [proxy.url], insecure: false },
      },
      pinnedImages: [`${MIRRORED}/lib/pause:1`],
    });
  },
  async () => {
    await engine?.stop();
    await proxy?.stop();
    await authRegistry?.stop();
    await registry?.stop();
  },
);

const context = () => ({ signal: new AbortController().signal });

async function pull(image: string, auth?: Record<string, string>, signal = new AbortController().signal) {
  return ops.pullImage!(create(PullImageRequestSchema, { image: { image }, auth }), { signal });
}

async function status(image: string, verbose = false) {
  return ops.imageStatus!(create(ImageStatusRequestSchema, { image: { image }, verbose }), context());
}

async function list(filter?: string) {
  const request = create(ListImagesRequestSchema, filter === undefined ? {} : { filter: { image: { image: filter } } });
  return (await ops.listImages!(request, context())).images ?? [];
}

async function remove(image: string) {
  return ops.removeImage!(create(RemoveImageRequestSchema, { image: { image } }), context());
}

async function removeAll(): Promise<void> {
  for (const image of await list()) await remove(image.id!);
  assert.deepEqual(await docker.docker.listImages({ all: true }), []);
}

async function expectKind(promise: Promise<unknown>, kind: ErrorKind, message?: RegExp): Promise<BerthError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof BerthError, `expected a ${kind} BerthError, got ${String(error)}`);
  assert.equal(error.kind, kind, error.message);
  if (message) assert.match(error.message, message);
  return error;
}

test('a pull through a mirror is listed under the asked name only, with its repo digest under the asked name', async () => {
  const res = await pull(asked);
  assert.equal(res.imageRef, busybox.configDigest, 'the image ID is Docker’s, the config digest');
  const repoDigest = `${MIRRORED}/lib/busybox@${busybox.manifestDigest}`;
  const image = (await status(asked)).image;
  assert.deepEqual(image?.repoTags, [asked]);
  assert.deepEqual(image?.repoDigests, [repoDigest]);
  assert.equal(image?.id, busybox.configDigest);
  assert.ok(image?.size !== undefined && image.size > 0n);
  assert.equal(image?.username, '');
  assert.equal(image?.uid, undefined);
  assert.equal(image?.pinned, false);
  // No tag under the mirror's name in Docker either.
  const inDocker = await docker.docker.getImage(busybox.configDigest).inspect();
  assert.deepEqual(inDocker.RepoTags, [asked]);
  const listed = await list();
  assert.deepEqual(
    listed.map((i) => i.repoTags),
    [[asked]],
  );
  // Found by the asked repo digest and by ID, with verbose info.
  assert.equal((await status(repoDigest)).image?.id, busybox.configDigest);
  const verbose = await status(busybox.configDigest, true);
  const info = JSON.parse(verbose.info?.info ?? '{}') as { id: string; config: { Env: string[] } };
  assert.equal(info.id, busybox.configDigest);
  assert.ok(info.config.Env.includes('BERTH_FIXTURE=busybox'));
  // Pulling again (by the repo digest too) changes nothing.
  assert.equal((await pull(asked)).imageRef, busybox.configDigest);
  assert.equal((await pull(repoDigest)).imageRef, busybox.configDigest);
  assert.deepEqual(
    (await list()).map((i) => [i.repoTags, i.repoDigests]),
    [[[asked], [repoDigest]]],
  );
  await removeAll();
});

test('uid and username come from the image config User; pinned images are reported pinned', async () => {
  const numeric = await pushImage(registry, 'lib/numeric:1', busyboxLikeImage({ config: { User: '1000:1000' } }));
  const named = await pushImage(registry, 'lib/pause:1', busyboxLikeImage({ config: { User: 'app' } }));
  await pull(numeric.reference); // straight from the registry: 127.0.0.0/8 is insecure to Docker
  await pull(`${MIRRORED}/lib/pause:1`);
  const n = (await status(numeric.reference)).image;
  assert.deepEqual(n?.repoTags, [numeric.reference]);
  assert.deepEqual(n?.repoDigests, [`${registry.host}/lib/numeric@${numeric.manifestDigest}`]);
  assert.equal(n?.uid?.value, 1000n);
  assert.equal(n?.username, '');
  assert.equal(n?.pinned, false);
  const p = (await status(`${MIRRORED}/lib/pause:1`)).image;
  assert.equal(p?.username, 'app');
  assert.equal(p?.uid, undefined);
  assert.equal(p?.pinned, true);
  assert.equal(named.configDigest, p?.id);
  await removeAll();
});

test('credentials: none or wrong ones are UNAUTHENTICATED; right ones (username/password or auth) pull', async () => {
  await pushImage(authRegistry, 'private/app:1', tinyImage({ files: { secret: 'behind auth\n' } }));
  const mirrored = `${PRIVATE}/private/app:1`;
  await expectKind(pull(mirrored), 'unauthenticated');
  for (const auth of [
    { username: USER, password: 'wrong-pw' },
    { username: 'mallory', password: PASSWORD },
  ]) {
    const error = await expectKind(pull(mirrored, auth), 'unauthenticated', /unauthorized|authentication required/);
    assert.ok(!error.message.includes('wrong-pw'), 'the message does not repeat a password');
  }
  assert.deepEqual(await list(), []);
  const res = await pull(mirrored, { username: USER, password: PASSWORD });
  assert.deepEqual((await status(mirrored)).image?.repoTags, [mirrored]);
  await removeAll();
  const direct = `${authRegistry.host}/private/app:1`;
  await expectKind(pull(direct, { username: USER, password: 'wrong-pw' }), 'unauthenticated');
  assert.equal((await pull(direct, { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') })).imageRef, res.imageRef);
  await removeAll();
});

test('an unknown tag or repository is NOT_FOUND; a malformed reference INVALID_ARGUMENT; nothing is left', async () => {
  for (const ref of [
    `${registry.host}/lib/busybox:nope`,
    `${registry.host}/lib/nothing:1`,
    `${registry.host}/lib/busybox@sha256:${'a'.repeat(64)}`,
  ]) {
    await expectKind(pull(ref), 'not-found', /not found|manifest unknown/);
  }
  // Through a mirror that has no such tag the host itself is tried too; it does not resolve here.
  const error = await expectKind(pull(`${MIRRORED}/lib/busybox:nope`), 'unavailable');
  assert.match(error.message, /via mirror http:\/\/127\.0\.0\.1:\d+: .*manifest unknown/);
  assert.match(error.message, /pull registry\.images\.test\/lib\/busybox:nope: .*no such host/);
  for (const ref of ['', 'UPPER/case:1', 'busybox:bad tag']) await expectKind(pull(ref), 'invalid-argument');
  assert.deepEqual(await list(), []);
  assert.deepEqual(await docker.docker.listImages({ all: true }), []);
});

test('the status of a missing image is empty, not an error', async () => {
  for (const ref of [asked, `${MIRRORED}/lib/busybox@${busybox.manifestDigest}`, busybox.configDigest, 'not a reference']) {
    const res = await status(ref);
    assert.equal(res.image, undefined, ref);
  }
  await expectKind(status(''), 'invalid-argument');
});

test('remove by tag or by ID takes every name of the image; removing a missing image succeeds', async () => {
  await pull(asked);
  await pull(busybox.reference);
  assert.deepEqual([...((await status(asked)).image?.repoTags ?? [])].sort(), [asked, busybox.reference].sort());
  await remove(asked);
  assert.equal((await status(busybox.reference)).image, undefined);
  assert.deepEqual(await docker.docker.listImages({ all: true }), []);

  await pull(asked);
  await pull(busybox.reference);
  await remove(busybox.configDigest);
  assert.deepEqual(await docker.docker.listImages({ all: true }), []);
  await remove(busybox.configDigest);
  await remove(asked);
  await expectKind(remove(''), 'invalid-argument');
});

test('ListImages filters by reference, repo digest or ID', async () => {
  const other = await pushImage(registry, 'lib/other:1', tinyImage({ files: { other: 'other\n' } }));
  await pull(asked);
  await pull(`${MIRRORED}/lib/other:1`);
  assert.equal((await list()).length, 2);
  assert.deepEqual(
    (await list(asked)).map((i) => i.id),
    [busybox.configDigest],
  );
  assert.deepEqual(
    (await list(`${MIRRORED}/lib/other@${other.manifestDigest}`)).map((i) => i.id),
    [other.configDigest],
  );
  assert.deepEqual(
    (await list(other.configDigest)).map((i) => i.repoTags),
    [[`${MIRRORED}/lib/other:1`]],
  );
  assert.deepEqual(await list(`${MIRRORED}/lib/none:1`), []);
  await removeAll();
});

test('ImageFsInfo reports the data root and what its images take', async () => {
  const fs = async () => {
    const res = await ops.imageFsInfo!(create(ImageFsInfoRequestSchema, {}), context());
    assert.equal(res.imageFilesystems?.length, 1);
    return res.imageFilesystems![0]!;
  };
  const before = await fs();
  assert.equal(before.fsId?.mountpoint, engine.dataRoot);
  assert.ok(typeof before.timestamp === 'bigint' && before.timestamp > 0n);
  await pull(asked);
  const after = await fs();
  const size = (await status(asked)).image!.size!;
  assert.ok(
    after.usedBytes!.value! - before.usedBytes!.value! >= size,
    `${after.usedBytes?.value} - ${before.usedBytes?.value} >= ${size}`,
  );
  assert.ok(after.inodesUsed!.value! > before.inodesUsed!.value!);
  await removeAll();
  assert.ok((await fs()).usedBytes!.value! < after.usedBytes!.value!);
});

test('a cancelled pull fails CANCELLED and leaves nothing in the engine', async () => {
  await pushImage(registry, 'lib/slow:1', busyboxLikeImage({ config: { Labels: { slow: 'yes' } } }));
  const layerDb = path.join(engine.dataRoot, 'image', 'overlay2', 'layerdb', 'sha256');
  const layersBefore = await readdir(layerDb).catch(() => []);
  const rule = proxy.tamper(/\/blobs\//, { kind: 'stall', seconds: 120 }, { method: 'GET' });
  try {
    const controller = new AbortController();
    const pulling = pull(`${SLOW}/lib/slow:1`, undefined, controller.signal);
    while (!proxy.requests.some((r) => r.method === 'GET' && r.url.includes('/blobs/'))) await sleep(20);
    controller.abort();
    await expectKind(pulling, 'cancelled');
  } finally {
    proxy.removeRule(rule);
  }
  assert.deepEqual(await list(), []);
  assert.deepEqual(await docker.docker.listImages({ all: true }), []);
  assert.deepEqual(await readdir(layerDb).catch(() => []), layersBefore);
});

test('an engine that is down is UNAVAILABLE; calls work again once it is back', async () => {
  await pull(asked);
  await engine.halt();
  try {
    await expectKind(list(), 'unavailable', /cannot be reached/);
    await expectKind(status(asked), 'unavailable');
    await expectKind(pull(asked), 'unavailable');
    await expectKind(remove(asked), 'unavailable');
    await expectKind(Promise.resolve(ops.imageFsInfo!(create(ImageFsInfoRequestSchema, {}), context())), 'unavailable');
  } finally {
    await engine.start();
  }
  assert.deepEqual(
    (await list()).map((i) => i.repoTags),
    [[asked]],
  );
  await removeAll();
});

test('over a real gRPC server: pull through the mirror, list, status, errors with their gRPC codes', async () => {
  await using dir = await makeTempDir('berth-dockershim-images-');
  const socket = path.join(dir.path, 'cri.sock');
  const server = await startCriServer(socket, criBindings({ runtime: {}, image: ops }), createLogger('fatal'));
  const cri = connectCri(`unix://${socket}`);
  try {
    const res = await cri.image.pullImage({ image: { image: asked } });
    assert.equal(res.imageRef, busybox.configDigest);
    const listed = await cri.image.listImages({});
    assert.deepEqual(
      listed.images.map((i) => [i.repoTags, i.repoDigests]),
      [[[asked], [`${MIRRORED}/lib/busybox@${busybox.manifestDigest}`]]],
    );
    assert.equal((await cri.image.imageStatus({ image: { image: `${MIRRORED}/lib/none:1` } })).image, undefined);
    await expectCriError(cri.image.pullImage({ image: { image: `${registry.host}/lib/busybox:nope` } }), 'NOT_FOUND');
    await expectCriError(
      cri.image.pullImage({ image: { image: `${PRIVATE}/private/app:1` }, auth: { username: USER, password: 'x' } }),
      'UNAUTHENTICATED',
    );
    await expectCriError(cri.image.pullImage({ image: { image: 'Bad/Ref' } }), 'INVALID_ARGUMENT');
    const fs = await cri.image.imageFsInfo({});
    assert.ok((fs.imageFilesystems[0]?.usedBytes?.value ?? 0n) > 0n);
    await cri.image.removeImage({ image: { image: busybox.configDigest } });
    assert.deepEqual((await cri.image.listImages({})).images, []);
  } finally {
    cri.close();
    await server.close();
  }
});
