// berth node in API-server mode against the fake API server (real client library, documented API
// semantics) with an in-memory provider: the Node and its Lease, pods bound to the node, their
// statuses, deletion with a grace period, mirror pods for static pods, events, relisting on 410
// Gone, bookmarks, and conflicts.
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { ApiEventRecorder } from '../../src/agent/apiserver/api-events.ts';
import { ApiSecretSource } from '../../src/agent/apiserver/api-object-sources.ts';
import { connectKubeApi } from '../../src/agent/apiserver/kube-api.ts';
import { MIRROR_ANNOTATION } from '../../src/agent/apiserver/mirror-pods.ts';
import type { KubeEvent, Lease, Node, Pod } from '../../src/agent/k8s-types.ts';
import { type RunningNode, runNode } from '../../src/agent/node.ts';
import { alwaysAllow, x509Authenticator } from '../../src/agent/node-api-auth.ts';
import { servingCertificate } from '../../src/agent/node-api-tls.ts';
import { createLogger, silentLogger } from '../../src/util/logger.ts';
import { type ApiObject, type FakeApiServer, startFakeApiServer } from '../fake-apiserver/fake-apiserver.ts';
import { kubectl } from '../fake-apiserver/kubectl.ts';
import { RecordingProvider } from './support/recording-provider.ts';
import { waitFor } from './support/wait-for.ts';

const logger = process.env.BERTH_TEST_LOG ? createLogger(process.env.BERTH_TEST_LOG) : silentLogger();
const NODE = 'node1';

function podObject(name: string, nodeName = NODE, extra: Partial<Pod['spec']> = {}): ApiObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', labels: { app: name } },
    spec: { nodeName, terminationGracePeriodSeconds: 5, containers: [{ name: 'c', image: 'busybox:1.36' }], ...extra },
  };
}

const asPod = (o: ApiObject | undefined) => o as unknown as Pod | undefined;

/** The node's log lines, kept for the test to read (and printed with BERTH_TEST_LOG). */
function recordingLogger() {
  const lines: { msg: string; code?: number; level: number; pod?: string; err?: string }[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
        if (process.env.BERTH_TEST_LOG) process.stderr.write(chunk);
        done();
      },
    }),
  );
  return { logger, lines };
}

describe('berth node in API-server mode (fake API server)', { timeout: 120_000 }, () => {
  let fake: FakeApiServer;
  let provider: RecordingProvider;
  let node: RunningNode;
  let dir: string;
  let events: ApiEventRecorder;
  const log = recordingLogger();

  before(async () => {
    fake = await startFakeApiServer({ bookmarkIntervalMs: 200 });
    dir = await mkdtemp(path.join(tmpdir(), 'berth-node-api-'));
    // A pod that finished before the node started: it is not run again.
    const done = fake.create('pods', podObject('finished'));
    fake.update('pods', 'default', 'finished', { ...done, status: { phase: 'Succeeded' } }, 'status');
    provider = new RecordingProvider();
    const api = connectKubeApi(fake.kubeConfig(NODE));
    events = new ApiEventRecorder({ api, nodeName: NODE, logger: log.logger });
    node = await runNode({
      nodeName: NODE,
      nodeIP: '192.0.2.10',
      provider,
      logger: log.logger,
      manifestDir: dir,
      apiServer: {
        api,
        events,
        timings: { statusSyncMs: 100, nodeStatusUpdateMs: 200, nodeStatusReportMs: 60_000, leaseDurationSeconds: 2, retryMs: 100 },
      },
      timings: { relistMs: 100, manifestScanMs: 100, retryBaseMs: 100, retryMaxMs: 500 },
      // The kubelet endpoint the Node reports: the authenticated HTTPS port.
      api: [
        {
          port: 0,
          tls: { ...(await servingCertificate({ certDir: dir, names: [NODE], logger })), clientCA: fake.kubeletClientCA },
          access: { authenticator: x509Authenticator, authorizer: alwaysAllow },
        },
      ],
    });
  });

  after(async () => {
    await node?.stop();
    await fake?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the node registers: capacity, allocatable, addresses, nodeInfo with the runtime version, Ready', async () => {
    const registered = await waitFor('the Node', () => fake.get('nodes', undefined, NODE) as unknown as Node | undefined);
    const status = registered.status!;
    assert.ok(Number(status.capacity?.cpu) >= 1);
    assert.match(status.capacity?.memory ?? '', /^\d+Ki$/);
    assert.equal(status.capacity?.pods, '110');
    assert.deepEqual(status.allocatable, status.capacity);
    assert.deepEqual(status.addresses?.[0], { type: 'InternalIP', address: '192.0.2.10' });
    assert.equal(status.addresses?.[1]?.type, 'Hostname');
    assert.equal(status.nodeInfo?.containerRuntimeVersion, 'fake://1.0.0');
    assert.equal(status.nodeInfo?.operatingSystem, 'linux');
    assert.match(status.nodeInfo?.kubeletVersion ?? '', /^v1\.\d+\.\d+/);
    assert.ok(node.apiPort !== undefined && node.apiPort > 0);
    assert.equal(status.daemonEndpoints?.kubeletEndpoint?.Port, node.apiPort);
    assert.equal(registered.metadata.labels?.['kubernetes.io/hostname'], NODE);
    assert.equal(registered.metadata.labels?.['kubernetes.io/os'], 'linux');
    const ready = status.conditions?.find((c) => c.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason], ['True', 'KubeletReady']);
    for (const type of ['MemoryPressure', 'DiskPressure', 'PIDPressure']) {
      assert.equal(status.conditions?.find((c) => c.type === type)?.status, 'False', type);
    }
  });

  test('the Lease in kube-node-lease is renewed, owned by the Node', async () => {
    const first = await waitFor('the Lease', () => fake.get('leases', 'kube-node-lease', NODE) as unknown as Lease | undefined);
    assert.equal(first.spec?.holderIdentity, NODE);
    assert.equal(first.spec?.leaseDurationSeconds, 2);
    const nodeUid = fake.get('nodes', undefined, NODE)?.metadata.uid;
    assert.deepEqual(first.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: NODE, uid: nodeUid }]);
    const renewed = await waitFor('a renewal', () => {
      const lease = fake.get('leases', 'kube-node-lease', NODE) as unknown as Lease;
      return lease.spec?.renewTime !== first.spec?.renewTime ? lease : undefined;
    });
    assert.match(renewed.spec?.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    assert.ok(Number(renewed.metadata.resourceVersion) > Number(first.metadata.resourceVersion));
  });

  test('node conditions follow the provider; a 409 Conflict on the status write is read again and retried', async () => {
    fake.faults.push({ method: 'PUT', pathPattern: /^\/api\/v1\/nodes\/node1\/status$/, status: 409, times: 1 });
    provider.nodeState = {
      ready: false,
      runtimeVersion: 'fake://1.0.0',
      message: 'container runtime network not ready: NetworkReady=false',
    };
    const notReady = await waitFor('Ready False', () => {
      const ready = (fake.get('nodes', undefined, NODE) as unknown as Node).status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.status === 'False' ? ready : undefined;
    });
    assert.equal(notReady.reason, 'KubeletNotReady');
    assert.equal(notReady.message, 'container runtime network not ready: NetworkReady=false');
    assert.ok(fake.requests.some((r) => r.method === 'PUT' && r.path === '/api/v1/nodes/node1/status' && r.status === 409));
    provider.nodeState = { ready: true, runtimeVersion: 'fake://1.0.0' };
    await waitFor('Ready True again', () =>
      (fake.get('nodes', undefined, NODE) as unknown as Node).status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'
        ? true
        : undefined,
    );
    await events.flush();
    const reasons = fake.list('events', 'default').map((e) => (e as unknown as KubeEvent).reason);
    for (const reason of ['Starting', 'NodeReady', 'NodeNotReady']) assert.ok(reasons.includes(reason), `${reason} in ${reasons}`);
  });

  test('a pod bound to the node runs; its status is written; pods of other nodes and finished pods are not run', async () => {
    fake.create('pods', podObject('web'));
    fake.create('pods', podObject('elsewhere', 'node2'));
    const uid = fake.get('pods', 'default', 'web')!.metadata.uid!;
    await waitFor('createPod', () => (provider.callsFor(uid).includes('createPod') ? true : undefined));
    const status = await waitFor('status Running in the API', () => {
      const s = asPod(fake.get('pods', 'default', 'web'))?.status;
      return s?.phase === 'Running' ? s : undefined;
    });
    assert.equal(status.containerStatuses?.[0]?.ready, true);
    const patch = fake.requests.find((r) => r.method === 'PATCH' && r.path === '/api/v1/namespaces/default/pods/web/status');
    assert.equal(patch?.contentType, 'application/merge-patch+json');
    assert.equal((patch?.body as { metadata?: { uid?: string } } | undefined)?.metadata?.uid, uid, 'the patch carries the pod UID');
    assert.equal(provider.calls.filter((c) => c.name === 'elsewhere' || c.name === 'finished').length, 0);
    assert.equal(node.pod('default', 'finished'), undefined);
    assert.ok(node.pod('default', 'web'));
    // An image change reaches the provider.
    const current = fake.get('pods', 'default', 'web')!;
    fake.update('pods', 'default', 'web', {
      ...current,
      spec: { ...(current.spec as object), containers: [{ ...(current.spec as Pod['spec']).containers[0]!, image: 'busybox:1.37' }] },
    });
    await waitFor('updatePod with the new image', () =>
      provider.running.get(uid)?.spec.containers[0]?.image === 'busybox:1.37' ? true : undefined,
    );
  });

  test('the real kubectl lists namespaces, nodes and pods and reads what the node reports', async () => {
    const namespaces = await kubectl(fake, ['get', 'namespaces']);
    assert.equal(namespaces.code, 0, namespaces.stderr);
    assert.match(namespaces.stdout, /^default\s+Active\s/m);
    const nodes = await kubectl(fake, ['get', 'nodes', '-o', 'wide']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, /^node1\s+Ready\s+<none>\s+\S+\s+v1\.\d+\.\d+\S*\s+192\.0\.2\.10\s+fake:\/\/1\.0\.0$/m);
    const pods = await kubectl(fake, ['get', 'pods', '--all-namespaces', '-o', 'wide']);
    assert.equal(pods.code, 0, pods.stderr);
    assert.match(pods.stdout, /^default\s+web\s+1\/1\s+Running\s+0\s+\S+\s+\S+\s+node1$/m);
    assert.match(pods.stdout, /^default\s+finished\s+0\/1\s+Succeeded\s/m);
    const reported = await kubectl(fake, ['get', 'node', NODE, '-o', 'json']);
    assert.equal(reported.code, 0, reported.stderr);
    const nodeJson = JSON.parse(reported.stdout) as Node;
    assert.equal(nodeJson.status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
    assert.equal(nodeJson.status?.nodeInfo?.containerRuntimeVersion, 'fake://1.0.0');
    assert.equal(nodeJson.status?.daemonEndpoints?.kubeletEndpoint?.Port, node.apiPort);
    // With the node's own credentials: its pods, but not the cluster's Secrets.
    const asNode = await kubectl(fake, ['get', 'pods', '-A', '--field-selector', `spec.nodeName=${NODE}`, '-o', 'name'], NODE);
    assert.equal(asNode.code, 0, asNode.stderr);
    assert.match(asNode.stdout, /^pod\/web$/m);
    const secrets = await kubectl(fake, ['get', 'secrets', '-n', 'default'], NODE);
    assert.match(secrets.stderr, /User "system:node:node1" cannot list resource "secrets"/);
  });

  test('status writes the API server rejects (422, 500) are retried and logged, as the kubelet does', async () => {
    const from = fake.requests.length;
    const logFrom = log.lines.length;
    const warnings = (msg: string) =>
      log.lines
        .slice(logFrom)
        .filter((l) => l.msg === msg && l.level === 40)
        .map((l) => l.code);
    fake.faults.push(
      { method: 'PUT', pathPattern: /^\/api\/v1\/nodes\/node1\/status$/, status: 422, times: 1 },
      { method: 'PUT', pathPattern: /^\/api\/v1\/nodes\/node1\/status$/, status: 500, times: 1 },
      { method: 'PATCH', pathPattern: /^\/api\/v1\/namespaces\/default\/pods\/rejected\/status$/, status: 422, times: 1 },
      { method: 'PATCH', pathPattern: /^\/api\/v1\/namespaces\/default\/pods\/rejected\/status$/, status: 500, times: 1 },
    );
    provider.nodeState = { ready: false, runtimeVersion: 'fake://1.0.0', message: 'PLEG is not healthy' };
    fake.create('pods', podObject('rejected'));
    await waitFor('the node status written after the failures', () => {
      const ready = (fake.get('nodes', undefined, NODE) as unknown as Node).status?.conditions?.find((c) => c.type === 'Ready');
      return ready?.message === 'PLEG is not healthy' ? true : undefined;
    });
    await waitFor('the pod status written after the failures', () =>
      asPod(fake.get('pods', 'default', 'rejected'))?.status?.phase === 'Running' ? true : undefined,
    );
    const refused = (path: string) =>
      fake.requests
        .slice(from)
        .filter((r) => r.path === path && r.status >= 400)
        .map((r) => r.status);
    assert.deepEqual(refused('/api/v1/nodes/node1/status'), [422, 500]);
    assert.deepEqual(refused('/api/v1/namespaces/default/pods/rejected/status'), [422, 500]);
    assert.deepEqual(warnings('updating the node status failed'), [422, 500]);
    assert.deepEqual(
      log.lines
        .slice(logFrom)
        .filter((l) => l.msg === 'writing a pod status failed' && l.pod === 'default/rejected')
        .map((l) => l.code),
      [422, 500],
    );
    provider.nodeState = { ready: true, runtimeVersion: 'fake://1.0.0' };
    fake.delete('pods', 'default', 'rejected', { gracePeriodSeconds: 0 });
  });

  test('a deleted pod is stopped with its grace period, then deleted for good with grace 0 and its UID', async () => {
    provider.deleteDelayMs = 300;
    const uid = fake.get('pods', 'default', 'web')!.metadata.uid!;
    fake.delete('pods', 'default', 'web', { gracePeriodSeconds: 3 });
    assert.ok(fake.get('pods', 'default', 'web')?.metadata.deletionTimestamp, 'graceful: still there');
    await waitFor('gone from the API', () => (fake.get('pods', 'default', 'web') === undefined ? true : undefined));
    const deleted = provider.deleted.find((p) => p.metadata.uid === uid);
    assert.equal(deleted?.metadata.deletionGracePeriodSeconds, 3, 'the provider got the deletion grace period');
    const final = fake.requests.find((r) => r.method === 'DELETE' && r.path === '/api/v1/namespaces/default/pods/web');
    assert.deepEqual(final?.body, { gracePeriodSeconds: 0, preconditions: { uid } });
    assert.equal(node.pod('default', 'web'), undefined);
    provider.deleteDelayMs = 0;
  });

  test('static pods get mirror pods (owned by the Node) with their status; a changed manifest replaces it; a removed one deletes it', async () => {
    const manifest = (image: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata: {name: static, labels: {tier: s}}\nspec:\n  containers: [{name: c, image: "${image}"}]\n`;
    await writeFile(path.join(dir, 'static.yaml'), manifest('busybox:1.36'));
    const mirror = await waitFor('the mirror pod', () => asPod(fake.get('pods', 'default', `static-${NODE}`)));
    const staticUid = node.pod('default', `static-${NODE}`)!.metadata.uid!;
    assert.equal(mirror.metadata.annotations?.[MIRROR_ANNOTATION], staticUid);
    assert.equal(mirror.metadata.annotations?.['kubernetes.io/config.source'], 'file');
    assert.equal(mirror.metadata.labels?.tier, 's');
    assert.equal(mirror.spec.nodeName, NODE);
    const nodeUid = fake.get('nodes', undefined, NODE)!.metadata.uid;
    assert.deepEqual(mirror.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: NODE, uid: nodeUid, controller: true }]);
    assert.notEqual(mirror.metadata.uid, staticUid);
    await waitFor('the mirror pod Running', () =>
      asPod(fake.get('pods', 'default', `static-${NODE}`))?.status?.phase === 'Running' ? true : undefined,
    );
    assert.equal(provider.calls.filter((c) => c.uid === mirror.metadata.uid).length, 0, 'the mirror pod itself is never run');

    await writeFile(path.join(dir, 'static.yaml'), manifest('busybox:1.37'));
    const replaced = await waitFor('a new mirror pod', () => {
      const m = asPod(fake.get('pods', 'default', `static-${NODE}`));
      return m !== undefined && m.metadata.uid !== mirror.metadata.uid ? m : undefined;
    });
    assert.equal(replaced.spec.containers[0]?.image, 'busybox:1.37');
    await unlink(path.join(dir, 'static.yaml'));
    await waitFor('the mirror pod deleted', () => (fake.get('pods', 'default', `static-${NODE}`) === undefined ? true : undefined));
  });

  test('a static pod that refers to a Secret runs without a mirror pod: NodeRestriction refuses it, logged once', async () => {
    const logFrom = log.lines.length;
    const from = fake.requests.length;
    await writeFile(
      path.join(dir, 'with-secret.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: with-secret}\nspec:\n  containers: [{name: c, image: "busybox:1.36", envFrom: [{secretRef: {name: s}}]}]\n',
    );
    const name = `with-secret-${NODE}`;
    await waitFor('the static pod runs', () => {
      const uid = node.pod('default', name)?.metadata.uid;
      return uid !== undefined && provider.running.has(uid) ? true : undefined;
    });
    const refusals = () =>
      fake.requests.slice(from).filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/default/pods' && r.status === 403);
    await waitFor('the mirror pod asked for twice', () => (refusals().length >= 2 ? true : undefined));
    assert.equal(fake.get('pods', 'default', name), undefined, 'no mirror pod');
    const logged = log.lines.slice(logFrom).filter((l) => l.msg === 'creating a mirror pod failed' && l.pod === `default/${name}`);
    assert.deepEqual(
      logged.map((l) => l.level),
      [40, ...logged.slice(1).map(() => 20)],
      'a warning once, then debug',
    );
    assert.match(logged[0]?.err ?? '', /node "node1" can not create pods that reference secrets/);
    await unlink(path.join(dir, 'with-secret.yaml'));
    await waitFor('the static pod gone', () => (node.pod('default', name) === undefined ? true : undefined));
  });

  test('events: the same event again counts up the first', async () => {
    const pod = asPod(fake.create('pods', podObject('evented', 'node2')))!;
    events.podEvent(pod, 'Warning', 'BackOff', 'Back-off restarting failed container c', 'c');
    events.podEvent(pod, 'Warning', 'BackOff', 'Back-off restarting failed container c', 'c');
    await events.flush();
    const recorded = fake
      .list('events', 'default')
      .map((e) => e as unknown as KubeEvent)
      .filter((e) => e.involvedObject.name === 'evented');
    assert.equal(recorded.length, 1);
    assert.deepEqual(
      [recorded[0]!.count, recorded[0]!.type, recorded[0]!.involvedObject.fieldPath, recorded[0]!.source],
      [2, 'Warning', 'spec.containers{c}', { component: 'kubelet', host: NODE }],
    );
    assert.equal(recorded[0]!.involvedObject.uid, pod.metadata.uid);
  });

  test('bookmarks move the resourceVersion; 410 Gone makes the node list again and catch up', async () => {
    const source = node.apiServer!.source;
    fake.create('secrets', { metadata: { name: 'unrelated', namespace: 'default' }, type: 'Opaque' });
    const target = fake.resourceVersion;
    await waitFor('a bookmark with the newest version', () => (Number(source.resourceVersion) >= Number(target) ? true : undefined));
    const lists = source.lists;
    // While the node does not watch, a pod is made and the history is compacted: resuming from
    // the node's version gets 410 Gone.
    fake.holdWatches();
    fake.closeWatches();
    fake.create('pods', podObject('after-gap'));
    fake.compact();
    fake.releaseWatches();
    const uid = fake.get('pods', 'default', 'after-gap')!.metadata.uid!;
    await waitFor('listed again', () => (source.lists > lists ? true : undefined), {
      timeoutMs: 10_000,
      describe: () =>
        `watches open: ${fake.watchCount}; watch requests: ${JSON.stringify(fake.requests.filter((r) => r.query.watch).map((r) => [r.query.resourceVersion, r.status]))}`,
    });
    await waitFor('the pod made during the gap runs', () => (provider.callsFor(uid).includes('createPod') ? true : undefined));
    assert.ok(
      fake.requests.some(
        (r) => r.query.watch === 'true' && r.query.allowWatchBookmarks === 'true' && r.query.fieldSelector === 'spec.nodeName=node1',
      ),
    );
  });

  test('the API server refused none of what the node wrote (Node authorizer, NodeRestriction, validation)', () => {
    const injected = new Set(['/api/v1/nodes/node1/status', '/api/v1/namespaces/default/pods/rejected/status']);
    const refused = fake.requests.filter(
      (r) =>
        r.user === `system:node:${NODE}` &&
        !r.userAgent?.startsWith('kubectl/') &&
        (r.status === 403 || r.status === 422) &&
        !injected.has(r.path) &&
        (r.body as ApiObject | undefined)?.metadata?.name !== `with-secret-${NODE}`,
    );
    assert.deepEqual(refused, []);
  });

  test('image pull secrets are read from the API', async () => {
    fake.create('secrets', {
      metadata: { name: 'regcred', namespace: 'default' },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': 'e30=' },
    });
    const secrets = new ApiSecretSource(connectKubeApi(fake.kubeConfig()));
    const secret = await secrets.getSecret('default', 'regcred', AbortSignal.timeout(5000));
    assert.equal(secret?.type, 'kubernetes.io/dockerconfigjson');
    assert.equal(await secrets.getSecret('default', 'missing', AbortSignal.timeout(5000)), undefined);
  });
});

describe('berth node in API-server mode, restarted', { timeout: 60_000 }, () => {
  test('a restarted node takes over its Node and adopts its pods instead of stopping them', async () => {
    const fake = await startFakeApiServer({ bookmarkIntervalMs: 200 });
    const provider = new RecordingProvider();
    const start = () =>
      runNode({
        nodeName: NODE,
        nodeIP: '192.0.2.10',
        provider,
        logger,
        apiServer: { api: connectKubeApi(fake.kubeConfig(NODE)), timings: { statusSyncMs: 100, nodeStatusUpdateMs: 200, retryMs: 100 } },
        timings: { relistMs: 50, retryBaseMs: 100, retryMaxMs: 500 },
      });
    try {
      fake.create('pods', podObject('kept'));
      const uid = fake.get('pods', 'default', 'kept')!.metadata.uid!;
      let node = await start();
      await waitFor('kept running', () => (provider.running.has(uid) ? true : undefined));
      const nodeUid = await waitFor('the Node', () => fake.get('nodes', undefined, NODE)?.metadata.uid);
      await node.stop();
      // The API answers slowly after the restart: the pod list comes late; the pod must survive that.
      fake.faults.push({ method: 'GET', pathPattern: /^\/api\/v1\/pods$/, status: 500, times: 3 });
      node = await start();
      try {
        await waitFor('the pod listed again', () => (node.apiServer!.source.lists > 0 ? true : undefined));
        await waitFor('status written by the new node', () =>
          node.apiServer!.statusPatches > 0 || asPod(fake.get('pods', 'default', 'kept'))?.status?.phase === 'Running' ? true : undefined,
        );
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(provider.callsFor(uid).includes('deletePod'), false, 'not stopped as an orphan');
        assert.ok(provider.running.has(uid));
        assert.equal(fake.get('nodes', undefined, NODE)?.metadata.uid, nodeUid, 'the same Node object');
        assert.ok(
          fake.requests.some((r) => r.method === 'POST' && r.path === '/api/v1/nodes' && r.status === 409),
          'created, found to exist',
        );
      } finally {
        await node.stop();
      }
    } finally {
      await fake.close();
    }
  });
});
