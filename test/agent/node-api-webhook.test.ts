// The node API's webhook mode against the fake API server: --authentication-token-webhook checks
// bearer tokens with TokenReview and --authorization-mode=Webhook asks SubjectAccessReview on the
// kubelet's attributes (verb from the method, nodes/proxy, nodes/stats, …), with the listeners the
// flags of `berth node` make. The API server's own client certificate still gets in.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pod } from '../../src/agent/k8s-types.ts';
import { type NodeApiServer, startNodeApi } from '../../src/agent/node-http-api.ts';
import { nodeApiListeners } from '../../src/cli/node-api-flags.ts';
import { type FakeApiServer, startFakeApiServer } from '../fake-apiserver/fake-apiserver.ts';
import { freePort } from '../support/ports.ts';
import { testLogger } from './support/node-harness.ts';

const NODE = 'webhook-node';
const POD: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web', namespace: 'default', uid: 'u-web' },
  spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] },
};

interface Answer {
  status: number;
  body: string;
}

describe('node API webhook mode: TokenReview and SubjectAccessReview', () => {
  let fake: FakeApiServer;
  let api: NodeApiServer;
  let dir: string;

  const call = (method: string, pathAndQuery: string, credentials: { token?: string; cert?: string; key?: string } = {}) =>
    new Promise<Answer>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: api.port,
          method,
          path: pathAndQuery,
          rejectUnauthorized: false,
          ...(credentials.token ? { headers: { authorization: `Bearer ${credentials.token}` } } : {}),
          ...(credentials.cert ? { cert: credentials.cert, key: credentials.key } : {}),
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  const reviews = (plural: string) => fake.requests.filter((r) => r.path.endsWith(`/${plural}`));

  before(async () => {
    fake = await startFakeApiServer();
    dir = await mkdtemp(path.join(tmpdir(), 'berth-node-webhook-'));
    const clientCaFile = path.join(dir, 'kubelet-client-ca.crt');
    await writeFile(clientCaFile, fake.kubeletClientCA);
    const listeners = await nodeApiListeners(
      {
        port: String(await freePort()),
        address: '127.0.0.1',
        'api-socket': '',
        'client-ca-file': clientCaFile,
        'authentication-token-webhook': 'true',
        'authorization-mode': 'Webhook',
      },
      { rootDir: dir, nodeName: NODE, nodeIP: '127.0.0.1', logger: testLogger, kubeConfig: fake.kubeConfig(NODE) },
    );
    api = await startNodeApi({
      pods: () => [POD],
      nodeName: NODE,
      logger: testLogger,
      listeners,
      provider: {
        async getContainerLogs() {
          return (async function* () {
            yield Buffer.from('a line\n');
          })();
        },
      },
    });
  });

  after(async () => {
    await api?.close();
    await fake?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a token whose user may get nodes/proxy reads pods and logs; asked once, then cached', async () => {
    const token = fake.userToken('viewer', { 'nodes/proxy': ['get'] });
    const pods = await call('GET', '/pods', { token });
    assert.equal(pods.status, 200, pods.body);
    assert.deepEqual(
      (JSON.parse(pods.body) as { items: Pod[] }).items.map((p) => p.metadata.name),
      ['web'],
    );
    const logs = await call('GET', '/containerLogs/default/web/main', { token });
    assert.deepEqual([logs.status, logs.body], [200, 'a line\n']);
    const access = reviews('subjectaccessreviews').at(-1)?.body as { spec: unknown };
    assert.deepEqual(access.spec, {
      user: 'viewer',
      groups: ['system:authenticated'],
      resourceAttributes: { verb: 'get', group: '', version: 'v1', resource: 'nodes', subresource: 'proxy', name: NODE },
    });
    // As the kubelet: the token and the decision are cached, so the API server is not asked again.
    const tokenReviews = reviews('tokenreviews').length;
    const accessReviews = reviews('subjectaccessreviews').length;
    assert.equal((await call('GET', '/pods', { token })).status, 200);
    assert.deepEqual([reviews('tokenreviews').length, reviews('subjectaccessreviews').length], [tokenReviews, accessReviews]);
    // Every review went with the node's own credentials.
    assert.deepEqual(
      [...new Set([...reviews('tokenreviews'), ...reviews('subjectaccessreviews')].map((r) => r.user))],
      [`system:node:${NODE}`],
    );
  });

  test('the verb comes from the method: get on nodes/proxy does not let a POST run anything', async () => {
    const token = fake.userToken('reader', { 'nodes/proxy': ['get'] });
    const run = await call('POST', '/run/default/web/main?cmd=id', { token });
    assert.equal(run.status, 403, run.body);
    assert.match(run.body, /user=reader, verb=create, resource=nodes, subresource=proxy/);
    const operator = fake.userToken('operator', { 'nodes/proxy': ['get', 'create'] });
    const allowed = await call('POST', '/run/default/web/main?cmd=id', { token: operator });
    // Past authorization, to the handler: the pod has no running container.
    assert.deepEqual([allowed.status, allowed.body], [400, 'container "main" in pod "web" is not running\n']);
  });

  test('a user without nodes/proxy gets 403; with nodes/stats only, /stats/summary but not /pods', async () => {
    const token = fake.userToken('stats-reader', { 'nodes/stats': ['get'] });
    const pods = await call('GET', '/pods', { token });
    assert.equal(pods.status, 403, pods.body);
    assert.match(pods.body, /Forbidden \(user=stats-reader, verb=get, resource=nodes, subresource=proxy\)/);
    assert.equal((await call('GET', '/stats/summary', { token })).status, 200);
    // A node's own credentials do not reach another caller's pods either (system:node has no nodes/proxy).
    assert.equal((await call('GET', '/pods', { token: fake.nodeToken('other-node') })).status, 403);
  });

  test('an unknown token, or none, gets 401', async () => {
    const unknown = await call('GET', '/pods', { token: 'not-a-token-the-api-server-knows' });
    assert.deepEqual([unknown.status, unknown.body], [401, 'Unauthorized\n']);
    assert.equal((await call('GET', '/containerLogs/default/web/main')).status, 401);
  });

  test("the API server's kubelet client certificate still gets in (system:masters, by SubjectAccessReview)", async () => {
    const { cert, key } = fake.kubeletClientCertificate;
    const logs = await call('GET', '/containerLogs/default/web/main', { cert, key });
    assert.deepEqual([logs.status, logs.body], [200, 'a line\n']);
    const access = reviews('subjectaccessreviews').at(-1)?.body as { spec: { user: string; groups: string[] } };
    assert.deepEqual([access.spec.user, access.spec.groups], ['kube-apiserver-kubelet-client', ['system:masters', 'system:authenticated']]);
  });

  test('webhook flags need --kubeconfig; the authorization mode is AlwaysAllow or Webhook', async () => {
    const context = { rootDir: dir, nodeName: NODE, nodeIP: '127.0.0.1', logger: testLogger };
    const flags = { port: String(await freePort()), 'api-socket': '' };
    await assert.rejects(
      nodeApiListeners({ ...flags, 'authorization-mode': 'Webhook' }, context),
      /--authorization-mode=Webhook asks the API server: it needs --kubeconfig/,
    );
    await assert.rejects(nodeApiListeners({ ...flags, 'authentication-token-webhook': 'true' }, context), /it needs --kubeconfig/);
    await assert.rejects(
      nodeApiListeners({ ...flags, 'authorization-mode': 'RBAC' }, { ...context, kubeConfig: fake.kubeConfig(NODE) }),
      /AlwaysAllow or Webhook, not RBAC/,
    );
    await assert.rejects(
      nodeApiListeners(
        { ...flags, 'authentication-token-webhook': 'true', 'authentication-token-webhook-cache-ttl': 'soon' },
        { ...context, kubeConfig: fake.kubeConfig(NODE) },
      ),
      /not a duration: soon/,
    );
  });
});
