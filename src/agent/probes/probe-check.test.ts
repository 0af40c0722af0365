import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { checkProbe, resolvePort } from './probe-check.ts';

const signal = new AbortController().signal;
const container = { name: 'web', ports: [{ name: 'http', containerPort: 8080 }] };

test('named and numeric ports', () => {
  assert.equal(resolvePort('http', container), 8080);
  assert.equal(resolvePort(81, container), 81);
  assert.equal(resolvePort('82', container), 82);
  assert.equal(resolvePort('nope', container), undefined);
});

test('httpGet: 2xx and 3xx succeed, others fail, headers are sent, timeouts fail', async () => {
  const seen: Record<string, string | undefined> = {};
  const server = createServer((req, res) => {
    seen.ua = req.headers['user-agent'];
    seen.custom = req.headers['x-probe'] as string | undefined;
    if (req.url === '/slow') return setTimeout(() => res.end('late'), 2500);
    res.statusCode = req.url === '/ok' ? 200 : req.url === '/moved' ? 302 : 503;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const probe = (path: string) => ({ httpGet: { path, port, httpHeaders: [{ name: 'X-Probe', value: 'yes' }] }, timeoutSeconds: 1 });
    assert.equal((await checkProbe(probe('/ok'), { container, podIP: '127.0.0.1' }, signal)).result, 'success');
    assert.equal(seen.ua, 'kube-probe/1.30');
    assert.equal(seen.custom, 'yes');
    assert.equal((await checkProbe(probe('/moved'), { container, podIP: '127.0.0.1' }, signal)).result, 'success');
    const bad = await checkProbe(probe('/bad'), { container, podIP: '127.0.0.1' }, signal);
    assert.deepEqual(bad, { result: 'failure', message: 'HTTP probe failed with statuscode: 503' });
    assert.equal((await checkProbe(probe('/slow'), { container, podIP: '127.0.0.1' }, signal)).result, 'failure');
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('tcpSocket: a listener succeeds, a closed port fails', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  assert.equal((await checkProbe({ tcpSocket: { port } }, { container, podIP: '127.0.0.1' }, signal)).result, 'success');
  await new Promise((r) => server.close(r));
  assert.equal((await checkProbe({ tcpSocket: { port } }, { container, podIP: '127.0.0.1' }, signal)).result, 'failure');
});

test('exec: exit 0 succeeds; errors and other codes fail', async () => {
  const exec = async (command: string[]) => ({ exitCode: command[0] === 'true' ? 0 : 1, output: '' });
  assert.equal((await checkProbe({ exec: { command: ['true'] } }, { container, podIP: '', exec }, signal)).result, 'success');
  assert.equal((await checkProbe({ exec: { command: ['false'] } }, { container, podIP: '', exec }, signal)).result, 'failure');
  const broken = async () => {
    throw new Error('container is not running');
  };
  assert.match((await checkProbe({ exec: { command: ['x'] } }, { container, podIP: '', exec: broken }, signal)).message, /not running/);
  assert.equal((await checkProbe({ exec: { command: ['x'] } }, { container, podIP: '' }, signal)).result, 'failure');
});
