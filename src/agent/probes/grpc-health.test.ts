import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { startGrpcHealthServer } from '../../../test/support/grpc-health-server.ts';
import { freePort } from '../../../test/support/ports.ts';
import {
  decodeHealthCheckRequest,
  decodeHealthCheckResponse,
  encodeHealthCheckRequest,
  encodeHealthCheckResponse,
  grpcHealthCheck,
} from './grpc-health.ts';
import { checkProbe } from './probe-check.ts';

const signal = new AbortController().signal;

test('the health messages in protobuf wire format', () => {
  assert.deepEqual([...encodeHealthCheckRequest('')], []);
  assert.deepEqual([...encodeHealthCheckRequest('db')], [0x0a, 2, 0x64, 0x62]);
  assert.equal(decodeHealthCheckRequest(encodeHealthCheckRequest('db')), 'db');
  assert.deepEqual([...encodeHealthCheckResponse(2)], [0x08, 2]);
  assert.equal(decodeHealthCheckResponse(Uint8Array.of(0x08, 1)), 1);
  assert.equal(decodeHealthCheckResponse(new Uint8Array()), 0);
  // Unknown fields are skipped.
  assert.equal(decodeHealthCheckResponse(Uint8Array.of(0x12, 1, 0x41, 0x08, 3)), 3);
});

test('gRPC probe: SERVING succeeds, other statuses and unknown services fail with the kubelet wording', async () => {
  const server = await startGrpcHealthServer('127.0.0.1', { '': 'SERVING', db: 'NOT_SERVING', cache: 'UNKNOWN' });
  try {
    const container = { name: 'app' };
    const probe = (service?: string) => ({ grpc: { port: server.port, ...(service !== undefined ? { service } : {}) }, timeoutSeconds: 1 });
    assert.deepEqual(await checkProbe(probe(), { container, podIP: '127.0.0.1' }, signal), {
      result: 'success',
      message: 'service healthy',
    });
    assert.deepEqual(await checkProbe(probe('db'), { container, podIP: '127.0.0.1' }, signal), {
      result: 'failure',
      message: 'service unhealthy (responded with "NOT_SERVING")',
    });
    assert.deepEqual(await grpcHealthCheck('127.0.0.1', server.port, 'cache', 1, signal), {
      result: 'failure',
      message: 'service unhealthy (responded with "UNKNOWN")',
    });
    assert.deepEqual(await grpcHealthCheck('127.0.0.1', server.port, 'nope', 1, signal), {
      result: 'failure',
      message: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service',
    });
    assert.equal(server.calls.get('nope'), 1, 'the service name reaches the server');
    server.set('db', 'SERVING');
    assert.equal((await grpcHealthCheck('127.0.0.1', server.port, 'db', 1, signal)).result, 'success');
  } finally {
    await server.close();
  }
});

test('gRPC probe: a server that does not answer in time, and no server at all', async () => {
  const server = await startGrpcHealthServer('127.0.0.1', { slow: 'hang' });
  try {
    assert.deepEqual(await grpcHealthCheck('127.0.0.1', server.port, 'slow', 1, signal), {
      result: 'failure',
      message: 'timeout: health rpc did not complete within 1s',
    });
  } finally {
    await server.close();
  }
  const closed = await freePort();
  assert.deepEqual(await grpcHealthCheck('127.0.0.1', closed, '', 1, signal), {
    result: 'failure',
    message: `timeout: failed to connect service "127.0.0.1:${closed}" within 1s: context deadline exceeded`,
  });
});

test('gRPC probe: a server that does not implement the health service', async () => {
  // A plain gRPC server without the health service answers UNIMPLEMENTED.
  const grpc = await import('@grpc/grpc-js');
  const bare = new grpc.Server();
  const port = await new Promise<number>((resolve, reject) =>
    bare.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  try {
    const outcome = await grpcHealthCheck('127.0.0.1', port, '', 1, signal);
    assert.equal(outcome.result, 'failure');
    assert.match(outcome.message, /^error: this server does not implement the grpc health protocol \(grpc\.health\.v1\.Health\): /);
  } finally {
    bare.forceShutdown();
  }
});

test('gRPC probe: a listener that never speaks HTTP/2 times out', async () => {
  const silent = createServer((socket) => socket.resume());
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  const port = (silent.address() as { port: number }).port;
  try {
    const outcome = await grpcHealthCheck('127.0.0.1', port, '', 1, signal);
    assert.equal(outcome.result, 'failure');
    assert.match(outcome.message, /^timeout: /);
    // The probe closes its connection; the server sees it go (the test's timeout bounds the wait).
    const open = () => new Promise<number>((r) => silent.getConnections((_e, n) => r(n)));
    while ((await open()) > 0) await new Promise((r) => setTimeout(r, 10));
  } finally {
    silent.close();
  }
});
