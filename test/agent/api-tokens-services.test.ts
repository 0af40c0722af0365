// The node's TokenRequest and service sources against the fake API server, through the real client
// library: tokens bound to an existing pod, new each time, the API's refusals; services listed per
// namespace and kept for the TTL.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiServiceSource } from '../../src/agent/apiserver/api-service-source.ts';
import { ApiTokenRequester } from '../../src/agent/apiserver/api-token-requester.ts';
import { connectKubeApi } from '../../src/agent/apiserver/kube-api.ts';
import type { Pod } from '../../src/agent/k8s-types.ts';
import { ServiceAccountTokenManager } from '../../src/agent/service-account-tokens.ts';
import { podServiceEnv } from '../../src/agent/service-env.ts';
import { type ApiObject, type FakeApiServer, startFakeApiServer } from '../fake-apiserver/fake-apiserver.ts';

const signal = new AbortController().signal;

const NODE = 'n1';

describe('TokenRequests and services through the fake API server', () => {
  let fake: FakeApiServer;
  let pod: Pod;

  before(async () => {
    fake = await startFakeApiServer();
    // The serviceaccounts controller made `default`; the node asks as itself (system:node:n1).
    pod = fake.create('pods', {
      metadata: { name: 'web', namespace: 'default' },
      spec: { nodeName: NODE, serviceAccountName: 'default', containers: [{ name: 'c', image: 'busybox' }] },
    } as ApiObject) as unknown as Pod;
  });

  after(async () => {
    await fake?.close();
  });

  test('a token bound to the pod: new each request, expiring after the requested lifetime', async () => {
    const requester = new ApiTokenRequester(connectKubeApi(fake.kubeConfig(NODE)));
    const spec = {
      audiences: ['vault'],
      expirationSeconds: 3607,
      boundObjectRef: { kind: 'Pod' as const, apiVersion: 'v1' as const, name: 'web', uid: pod.metadata.uid! },
    };
    const before = Date.now();
    const first = await requester.requestToken('default', 'default', spec, signal);
    const second = await requester.requestToken('default', 'default', spec, signal);
    assert.notEqual(first.token, second.token);
    const claims = JSON.parse(Buffer.from(first.token.split('.')[1]!, 'base64url').toString('utf8'));
    assert.deepEqual(claims.aud, ['vault']);
    assert.equal(claims['kubernetes.io'].pod.uid, pod.metadata.uid);
    const lifetime = Date.parse(first.expirationTimestamp) - before;
    assert.ok(lifetime > 3600_000 && lifetime <= 3608_000, String(lifetime));
    const request = fake.requests.findLast((r) => r.path.endsWith('/token'))!;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/api/v1/namespaces/default/serviceaccounts/default/token');
  });

  test("the API's refusals: no such service account, a pod of another UID, too short a lifetime", async () => {
    const tokens = new ServiceAccountTokenManager(new ApiTokenRequester(connectKubeApi(fake.kubeConfig(NODE))));
    await assert.rejects(
      tokens.getToken({ ...pod, spec: { ...pod.spec, serviceAccountName: 'builder' } }, { expirationSeconds: 3600 }, signal),
      { message: /failed to fetch token: .*no relationship found between node 'n1' and this object/ },
    );
    await assert.rejects(tokens.getToken({ ...pod, metadata: { ...pod.metadata, uid: 'other' } }, { expirationSeconds: 3600 }, signal), {
      message:
        /failed to fetch token: serviceaccounts "default" is forbidden: the UID in the bound object reference \(other\) does not match/,
    });
    const requester = new ApiTokenRequester(connectKubeApi(fake.kubeConfig(NODE)));
    await assert.rejects(
      requester.requestToken(
        'default',
        'default',
        { expirationSeconds: 599, boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'web', uid: pod.metadata.uid! } },
        signal,
      ),
      { message: /spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 10 minutes/ },
    );
    assert.equal(tokens.size, 0);
  });

  test('services: cluster IPs allocated, listed once per namespace within the TTL', async () => {
    fake.create('services', {
      metadata: { name: 'kubernetes', namespace: 'default' },
      spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] },
    });
    const web = fake.create('services', { metadata: { name: 'shop-web', namespace: 'default' }, spec: { ports: [{ port: 8080 }] } });
    fake.create('services', { metadata: { name: 'headless', namespace: 'default' }, spec: { clusterIP: 'None', ports: [{ port: 1 }] } });
    const clock = { now: 1_000_000 };
    const services = new ApiServiceSource(connectKubeApi(fake.kubeConfig(NODE)), { ttlMs: 10_000, now: () => clock.now });
    const lists = () => fake.requests.filter((r) => r.method === 'GET' && r.path === '/api/v1/namespaces/default/services').length;
    const env = await podServiceEnv(pod, services, signal);
    const ip = (web.spec as { clusterIP: string }).clusterIP;
    assert.match(ip, /^10\.96\.\d+\.\d+$/);
    assert.equal(env.get('KUBERNETES_SERVICE_HOST'), '10.96.0.1');
    assert.equal(env.get('SHOP_WEB_PORT_8080_TCP'), `tcp://${ip}:8080`);
    assert.equal(env.has('HEADLESS_SERVICE_HOST'), false);
    assert.equal(lists(), 1);
    await podServiceEnv(pod, services, signal);
    assert.equal(lists(), 1, 'within the TTL: no new list');
    clock.now += 10_000;
    await podServiceEnv(pod, services, signal);
    assert.equal(lists(), 2);
  });
});
