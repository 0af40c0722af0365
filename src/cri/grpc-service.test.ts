import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { ImageService, PodSandboxState, RuntimeService } from '../cri-api/gen/runtime/v1/api_pb.js';
import { type BerthError, internal, isBerthError, notFound } from '../errors/errors.ts';
import { addService, makeClient, methodPath, normalizeAddress, serviceDefinition, toGrpcError } from './grpc-service.ts';
import { grpcStatusForKind, kindForGrpcStatus } from './grpc-status.ts';

const MAX_INT64 = 2n ** 63n - 1n;
const MAX_UINT64 = 2n ** 64n - 1n;

describe('grpc-status', () => {
  test('kinds and codes map both ways', () => {
    assert.equal(grpcStatusForKind('unimplemented'), grpc.status.UNIMPLEMENTED);
    assert.equal(grpcStatusForKind('unauthenticated'), grpc.status.UNAUTHENTICATED);
    assert.equal(grpcStatusForKind('not-found'), grpc.status.NOT_FOUND);
    for (const kind of ['invalid-argument', 'already-exists', 'deadline-exceeded', 'cancelled', 'aborted'] as const) {
      assert.equal(kindForGrpcStatus(grpcStatusForKind(kind)), kind);
    }
    assert.equal(kindForGrpcStatus(grpc.status.UNKNOWN), 'internal');
    assert.equal(kindForGrpcStatus(grpc.status.DATA_LOSS), 'internal');
  });

  test('toGrpcError keeps message, status and code', () => {
    const e = toGrpcError(notFound('pod-not-found', 'pod abc not found'));
    assert.equal(e.code, grpc.status.NOT_FOUND);
    assert.equal(e.details, 'pod abc not found');
    assert.deepEqual(e.metadata.get('berth-error-code'), ['pod-not-found']);
    assert.equal(toGrpcError(new Error('boom')).code, grpc.status.INTERNAL);
    assert.equal(toGrpcError('weird').details, 'weird');
  });
});

describe('service definition', () => {
  test('paths, names and streaming flags', () => {
    const def = serviceDefinition(RuntimeService);
    assert.equal(def.version?.path, '/runtime.v1.RuntimeService/Version');
    assert.equal(def.version?.originalName, 'Version');
    assert.equal(def.version?.responseStream, false);
    assert.equal(def.getContainerEvents?.responseStream, true);
    assert.equal(def.getContainerEvents?.requestStream, false);
    assert.equal(methodPath(ImageService.method.listImages), '/runtime.v1.ImageService/ListImages');
  });

  test('addresses', () => {
    assert.equal(normalizeAddress('/run/berth/berth.sock'), 'unix:/run/berth/berth.sock');
    assert.equal(normalizeAddress('unix:///run/x.sock'), 'unix:///run/x.sock');
    assert.equal(normalizeAddress('unix:/run/x.sock'), 'unix:/run/x.sock');
  });
});

describe('server and client over a unix socket', () => {
  let dir: string;
  let server: grpc.Server;
  let socket: string;
  let sawCancel: Promise<void>;
  let markCancel: () => void;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-grpc-'));
    socket = join(dir, 'cri.sock');
    sawCancel = new Promise((resolve) => {
      markCancel = resolve;
    });
    server = new grpc.Server();
    addService(server, RuntimeService, {
      version: (req) => ({
        version: req.version,
        runtimeName: 'berth',
        runtimeVersion: '0.1.0',
        runtimeApiVersion: 'v1',
      }),
      podSandboxStatus: async (req) => {
        if (req.podSandboxId !== 'known') throw notFound('sandbox-not-found', `sandbox ${req.podSandboxId} not found`);
        return {
          status: { id: req.podSandboxId, createdAt: MAX_INT64, state: PodSandboxState.SANDBOX_READY },
          timestamp: -5n,
        };
      },
      listContainers: () => {
        throw new Error('disk on fire');
      },
      execSync: (_req, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            markCancel();
            reject(ctx.signal.reason);
          });
        }),
      getContainerEvents: async function* () {
        yield { containerId: 'a', createdAt: 1n };
        yield { containerId: 'b', createdAt: MAX_INT64 };
      },
      streamContainers: async function* () {
        yield { containers: [{ id: 'first' }] };
        throw internal('runtime-failed', 'stream broke halfway');
      },
    });
    addService(server, ImageService, {
      imageFsInfo: () => ({ imageFilesystems: [{ timestamp: 1n, usedBytes: { value: MAX_UINT64 } }] }),
    });
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
    );
  });

  after(async () => {
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  async function rejection(p: Promise<unknown>): Promise<BerthError> {
    try {
      await p;
    } catch (e) {
      assert.ok(isBerthError(e), `expected a BerthError, got ${String(e)}`);
      return e;
    }
    assert.fail('expected the call to fail');
  }

  test('Version through unix:///path and unix:/path', async () => {
    for (const address of [`unix://${socket}`, `unix:${socket}`]) {
      const client = makeClient(RuntimeService, address);
      try {
        const res = await client.version({ version: '0.1.0' }, { timeoutMs: 5000 });
        assert.equal(res.version, '0.1.0');
        assert.equal(res.runtimeName, 'berth');
        assert.equal(res.runtimeVersion, '0.1.0');
        assert.equal(res.runtimeApiVersion, 'v1');
      } finally {
        client.close();
      }
    }
  });

  test('missing handlers and unregistered methods answer UNIMPLEMENTED', async () => {
    const client = makeClient(RuntimeService, `unix://${socket}`);
    const images = makeClient(ImageService, `unix://${socket}`);
    try {
      const e = await rejection(client.runPodSandbox({}));
      assert.equal(e.kind, 'unimplemented');
      assert.equal(e.code, 'unimplemented');
      assert.equal(e.fields.grpcStatus, 'UNIMPLEMENTED');
      assert.equal((e.cause as grpc.ServiceError).code, grpc.status.UNIMPLEMENTED);
      assert.match(e.message, /RunPodSandbox/);
      const e2 = await rejection(images.listImages());
      assert.equal((e2.cause as grpc.ServiceError).code, grpc.status.UNIMPLEMENTED);
    } finally {
      client.close();
      images.close();
    }
  });

  test('a thrown BerthError arrives with its status, message and code', async () => {
    const client = makeClient(RuntimeService, `unix://${socket}`);
    try {
      const e = await rejection(client.podSandboxStatus({ podSandboxId: 'nope' }));
      assert.equal(e.kind, 'not-found');
      assert.equal((e.cause as grpc.ServiceError).code, grpc.status.NOT_FOUND);
      assert.equal(e.message, 'sandbox nope not found');
      assert.equal(e.code, 'sandbox-not-found');
      assert.equal(e.fields.method, '/runtime.v1.RuntimeService/PodSandboxStatus');
      const e2 = await rejection(client.listContainers({}));
      assert.equal(e2.kind, 'internal');
      assert.equal(e2.message, 'disk on fire');
    } finally {
      client.close();
    }
  });

  test('int64 and uint64 fields round-trip as bigint', async () => {
    const client = makeClient(RuntimeService, `unix://${socket}`);
    const images = makeClient(ImageService, `unix://${socket}`);
    try {
      const res = await client.podSandboxStatus({ podSandboxId: 'known' });
      assert.equal(res.status?.createdAt, MAX_INT64);
      assert.equal(res.timestamp, -5n);
      assert.equal(res.status?.state, PodSandboxState.SANDBOX_READY);
      const fs = await images.imageFsInfo();
      assert.equal(fs.imageFilesystems[0]?.usedBytes?.value, MAX_UINT64);
    } finally {
      client.close();
      images.close();
    }
  });

  test('server streaming delivers every message, then errors map too', async () => {
    const client = makeClient(RuntimeService, `unix://${socket}`);
    try {
      const events = [];
      for await (const event of client.getContainerEvents({})) events.push(event);
      assert.deepEqual(
        events.map((e) => [e.containerId, e.createdAt]),
        [
          ['a', 1n],
          ['b', MAX_INT64],
        ],
      );
      for await (const event of client.getContainerEvents({})) {
        assert.equal(event.containerId, 'a');
        break; // stopping early cancels the call quietly
      }
      const seen: string[] = [];
      const e = await rejection(
        (async () => {
          for await (const chunk of client.streamContainers({})) seen.push(...chunk.containers.map((c) => c.id));
        })(),
      );
      assert.deepEqual(seen, ['first']);
      assert.equal(e.code, 'runtime-failed');
      assert.equal(e.kind, 'internal');
    } finally {
      client.close();
    }
  });

  test('timeoutMs gives deadline-exceeded; an aborted signal cancels the server side too', async () => {
    const client = makeClient(RuntimeService, `unix://${socket}`);
    try {
      const late = await rejection(client.execSync({ containerId: 'x' }, { timeoutMs: 50 }));
      assert.equal(late.kind, 'deadline-exceeded');
      const controller = new AbortController();
      const pending = client.execSync({ containerId: 'x' }, { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      const e = await rejection(pending);
      assert.equal(e.kind, 'cancelled');
      await sawCancel;
      const already = await rejection(client.version({}, { signal: AbortSignal.abort() }));
      assert.equal(already.kind, 'cancelled');
    } finally {
      client.close();
    }
  });
});
