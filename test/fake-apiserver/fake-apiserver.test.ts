// The fake API server answers the real client library as the API documents: the semantics the
// node's API-server mode relies on, pinned here so that the node's tests mean something.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1SubjectAccessReviewStatus,
  type V1TokenReviewStatus,
  Watch,
} from '@kubernetes/client-node';
import { fromApi, statusCode } from '../../src/agent/apiserver/kube-api.ts';
import type { Pod } from '../../src/agent/k8s-types.ts';
import { waitFor } from '../agent/support/wait-for.ts';
import { selfSignedCertificate } from './certificate.ts';
import { type FakeApiServer, startFakeApiServer } from './fake-apiserver.ts';
import { kubectl } from './kubectl.ts';

const pod = (name: string, nodeName?: string): Pod => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: name } },
  spec: { containers: [{ name: 'c', image: 'busybox:1.36' }], ...(nodeName ? { nodeName } : {}) },
});

async function failure(promise: Promise<unknown>): Promise<{ code: number | undefined; message: string }> {
  try {
    await promise;
  } catch (e) {
    const body = (e as { body?: unknown }).body;
    const parsed = typeof body === 'string' ? (JSON.parse(body) as { message?: string }) : (body as { message?: string } | undefined);
    return { code: statusCode(e), message: parsed?.message ?? '' };
  }
  assert.fail('the call succeeded');
}

describe('fake API server', () => {
  let fake: FakeApiServer;
  let core: CoreV1Api;
  let coordination: CoordinationV1Api;
  let watch: Watch;

  before(async () => {
    fake = await startFakeApiServer({ bookmarkIntervalMs: 100, historyLimit: 50 });
    const config = fake.kubeConfig();
    core = config.makeApiClient(CoreV1Api);
    coordination = config.makeApiClient(CoordinationV1Api);
    watch = new Watch(config);
  });
  after(() => fake.close());

  test('create, get, 409 AlreadyExists, 404 for a missing namespace, defaults applied to pods', async () => {
    const created = fromApi<Pod>(await core.createNamespacedPod({ namespace: 'default', body: pod('a', 'node1') as never }));
    assert.match(created.metadata.uid ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(created.spec.restartPolicy, 'Always');
    assert.equal(created.spec.containers[0]?.imagePullPolicy, 'IfNotPresent');
    assert.equal(created.status?.phase, 'Pending');
    assert.equal(created.status?.qosClass, 'BestEffort');
    assert.equal(created.spec.schedulerName, 'default-scheduler');
    assert.equal(created.spec.enableServiceLinks, true);
    assert.equal(created.spec.dnsPolicy, 'ClusterFirst');
    assert.deepEqual(
      [created.spec.containers[0]?.terminationMessagePath, created.spec.containers[0]?.terminationMessagePolicy],
      ['/dev/termination-log', 'File'],
    );
    assert.deepEqual(
      created.spec.tolerations?.map((t) => [t.key, t.effect, t.tolerationSeconds]),
      [
        ['node.kubernetes.io/not-ready', 'NoExecute', 300],
        ['node.kubernetes.io/unreachable', 'NoExecute', 300],
      ],
    );
    // ServiceAccount admission: the default account and its kube-api-access volume in every container.
    assert.equal(created.spec.serviceAccountName, 'default');
    const tokenVolume = created.spec.volumes?.find((v) => v.name.startsWith('kube-api-access-'));
    assert.equal(tokenVolume?.projected?.defaultMode, 420);
    assert.deepEqual(created.spec.containers[0]?.volumeMounts, [
      { name: tokenVolume?.name, readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' },
    ]);
    assert.equal((await failure(core.createNamespacedPod({ namespace: 'default', body: pod('a') as never }))).code, 409);
    assert.deepEqual(await failure(core.createNamespacedPod({ namespace: 'nope', body: pod('b') as never })), {
      code: 404,
      message: 'namespaces "nope" not found',
    });
    assert.equal((await failure(core.readNamespacedPod({ name: 'zzz', namespace: 'default' }))).code, 404);
  });

  test('field selectors: supported fields only; list carries the resourceVersion', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: pod('on-2', 'node2') as never });
    const list = fromApi<{ metadata: { resourceVersion: string }; items: Pod[] }>(
      await core.listPodForAllNamespaces({ fieldSelector: 'spec.nodeName=node1' }),
    );
    assert.deepEqual(
      list.items.map((p) => p.metadata.name),
      ['a'],
    );
    assert.equal(list.metadata.resourceVersion, fake.resourceVersion);
    assert.equal((await failure(core.listPodForAllNamespaces({ fieldSelector: 'spec.image=x' }))).code, 400);
  });

  test('a stale resourceVersion or a wrong uid is a 409 Conflict; status goes only through the subresource', async () => {
    const current = fromApi<Pod>(await core.readNamespacedPod({ name: 'a', namespace: 'default' }));
    const stale = { ...current, status: { phase: 'Running' as const } };
    await core.replaceNamespacedPodStatus({ name: 'a', namespace: 'default', body: stale as never });
    assert.equal((await failure(core.replaceNamespacedPodStatus({ name: 'a', namespace: 'default', body: stale as never }))).code, 409);
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    const wrongUid = await failure(
      core.patchNamespacedPodStatus(
        { name: 'a', namespace: 'default', body: { metadata: { uid: 'other' }, status: { phase: 'Failed' } } },
        mergePatch,
      ),
    );
    assert.equal(wrongUid.code, 409);
    assert.match(wrongUid.message, /Precondition failed: UID in precondition: other/);
    // The main resource does not change status; the status subresource does not change the spec.
    const latest = fromApi<Pod>(await core.readNamespacedPod({ name: 'a', namespace: 'default' }));
    await core.replaceNamespacedPod({ name: 'a', namespace: 'default', body: { ...latest, status: { phase: 'Failed' } } as never });
    assert.equal(
      fake.get('pods', 'default', 'a')?.status && (fake.get('pods', 'default', 'a')!.status as { phase: string }).phase,
      'Running',
    );
    await core.patchNamespacedPodStatus(
      { name: 'a', namespace: 'default', body: { spec: { restartPolicy: 'Never' }, status: { podIP: '10.0.0.1' } } },
      mergePatch,
    );
    const after = fake.get('pods', 'default', 'a') as unknown as Pod;
    assert.deepEqual([after.spec.restartPolicy, after.status?.podIP, after.status?.phase], ['Always', '10.0.0.1', 'Running']);
    // Pod spec is immutable but for a few fields; other patch types are refused.
    assert.equal(
      (await failure(core.patchNamespacedPod({ name: 'a', namespace: 'default', body: { spec: { restartPolicy: 'Never' } } }, mergePatch)))
        .code,
      422,
    );
    assert.equal(
      (
        await failure(
          core.patchNamespacedPod(
            { name: 'a', namespace: 'default', body: { spec: {} } },
            setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
          ),
        )
      ).code,
      415,
    );
  });

  test('graceful deletion of a bound pod, then deletion with grace 0 and a uid precondition', async () => {
    const deleting = fromApi<Pod>(await core.deleteNamespacedPod({ name: 'a', namespace: 'default', gracePeriodSeconds: 7 }));
    assert.equal(deleting.metadata.deletionGracePeriodSeconds, 7);
    assert.ok(deleting.metadata.deletionTimestamp);
    assert.ok(fake.get('pods', 'default', 'a'), 'still there while the node stops it');
    const wrong = await failure(
      core.deleteNamespacedPod({ name: 'a', namespace: 'default', body: { gracePeriodSeconds: 0, preconditions: { uid: 'x' } } }),
    );
    assert.equal(wrong.code, 409);
    await core.deleteNamespacedPod({
      name: 'a',
      namespace: 'default',
      body: { gracePeriodSeconds: 0, preconditions: { uid: deleting.metadata.uid } },
    });
    assert.equal(fake.get('pods', 'default', 'a'), undefined);
    // An unbound pod goes at once.
    await core.createNamespacedPod({ namespace: 'default', body: pod('unbound') as never });
    await core.deleteNamespacedPod({ name: 'unbound', namespace: 'default' });
    assert.equal(fake.get('pods', 'default', 'unbound'), undefined);
  });

  test('watch: replay from a resourceVersion, selector moves as ADDED/DELETED, bookmarks, 410 for a compacted version', async () => {
    const from = fake.resourceVersion;
    await core.createNamespacedPod({ namespace: 'default', body: pod('w1') as never });
    await core.createNamespacedPod({ namespace: 'default', body: pod('w2', 'node9') as never });
    const seen: string[] = [];
    let bookmarks = 0;
    const controller = await watch.watch(
      '/api/v1/pods',
      { fieldSelector: 'spec.nodeName=node9', resourceVersion: from, allowWatchBookmarks: true },
      (type, obj: Pod) => {
        if (type === 'BOOKMARK') bookmarks++;
        else seen.push(`${type} ${obj.metadata.name}`);
      },
      () => undefined,
    );
    await core.deleteNamespacedPod({ name: 'w2', namespace: 'default', gracePeriodSeconds: 0 });
    await waitFor('events and a bookmark', () => (seen.length >= 2 && bookmarks > 0 ? true : undefined), { timeoutMs: 5000 });
    assert.deepEqual(seen, ['ADDED w2', 'DELETED w2'], 'replayed from the version, then live; w1 is on no node');
    controller.abort();

    // A label selector: an object that starts matching is ADDED, one that stops is DELETED.
    const labelled: string[] = [];
    const byLabel = await watch.watch(
      '/api/v1/namespaces/default/pods',
      { labelSelector: 'tier=web', resourceVersion: fake.resourceVersion },
      (type, obj: Pod) => labelled.push(`${type} ${obj.metadata.name}`),
      () => undefined,
    );
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    await core.patchNamespacedPod({ name: 'w1', namespace: 'default', body: { metadata: { labels: { tier: 'web' } } } }, mergePatch);
    await core.patchNamespacedPod({ name: 'w1', namespace: 'default', body: { metadata: { annotations: { a: 'b' } } } }, mergePatch);
    await core.patchNamespacedPod({ name: 'w1', namespace: 'default', body: { metadata: { labels: { tier: null } } } }, mergePatch);
    await waitFor('three events', () => (labelled.length >= 3 ? true : undefined), { timeoutMs: 5000 });
    assert.deepEqual(labelled, ['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
    byLabel.abort();

    // An expired version is an HTTP 410 on watch and on an exact list.
    fake.compact();
    const expired = await new Promise<unknown>((resolve) => {
      void watch.watch(
        '/api/v1/pods',
        { resourceVersion: from },
        () => resolve('an event'),
        (err) => resolve(statusCode(err)),
      );
    });
    assert.equal(expired, 410);
    assert.equal((await failure(core.listPodForAllNamespaces({ resourceVersion: from, resourceVersionMatch: 'Exact' }))).code, 410);
  });

  test('defaults: pull policy by tag, volume modes, requests from limits, QoS class; no token volume when automount is off', async () => {
    const created = fromApi<Pod>(
      await core.createNamespacedPod({
        namespace: 'default',
        body: {
          metadata: { name: 'defaults' },
          spec: {
            automountServiceAccountToken: false,
            volumes: [{ name: 's', secret: { secretName: 'x' } }, { name: 'e' }],
            containers: [
              { name: 'latest', image: 'busybox', resources: { limits: { cpu: '100m', memory: '64Mi' } } },
              { name: 'digest', image: 'busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000' },
              { name: 'tagged', image: 'registry:5000/busybox:latest' },
            ],
          },
        } as never,
      }),
    );
    assert.deepEqual(
      created.spec.containers.map((c) => c.imagePullPolicy),
      ['Always', 'IfNotPresent', 'Always'],
    );
    assert.deepEqual(created.spec.containers[0]?.resources?.requests, { cpu: '100m', memory: '64Mi' });
    assert.equal(created.spec.volumes?.[0]?.secret?.defaultMode, 420);
    assert.deepEqual(created.spec.volumes?.[1]?.emptyDir, {});
    assert.equal(created.spec.volumes?.length, 2, 'no token volume');
    assert.equal(created.status?.qosClass, 'Burstable');
    const missing = await failure(
      core.createNamespacedPod({
        namespace: 'default',
        body: {
          metadata: { name: 'no-sa' },
          spec: { serviceAccountName: 'nope', containers: [{ name: 'c', image: 'busybox:1' }] },
        } as never,
      }),
    );
    assert.equal(missing.code, 403);
    assert.match(missing.message, /serviceaccount "nope" not found/);
  });

  test('the Node authorizer and NodeRestriction: what a node may read and write', async () => {
    const nodeApi = fake.kubeConfig('n1').makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'used' } } as never });
    await core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 'unused' } } as never });
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'on-n1' },
        spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox:1', envFrom: [{ secretRef: { name: 'used' } }] }] },
      } as never,
    });
    await nodeApi.readNamespacedSecret({ name: 'used', namespace: 'default' });
    const unrelated = await failure(nodeApi.readNamespacedSecret({ name: 'unused', namespace: 'default' }));
    assert.equal(unrelated.code, 403);
    assert.match(unrelated.message, /no relationship found between node 'n1' and this object/);
    assert.equal((await failure(nodeApi.listNamespacedSecret({ namespace: 'default' }))).code, 403);
    assert.equal((await failure(nodeApi.listNamespace())).code, 403, 'namespaces are not for nodes');
    // Its own Node only; mirror pods only, bound to it, referring to no Secret.
    await nodeApi.createNode({ body: { metadata: { name: 'n1' } } as never });
    assert.equal((await failure(nodeApi.createNode({ body: { metadata: { name: 'n2' } } as never }))).code, 403);
    const plain = await failure(
      nodeApi.createNamespacedPod({
        namespace: 'default',
        body: { metadata: { name: 'p' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'b:1' }] } } as never,
      }),
    );
    assert.match(plain.message, /can only create mirror pods/);
    const mirror = (name: string, extra: object) => ({
      metadata: { name, annotations: { 'kubernetes.io/config.mirror': 'hash' } },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'b:1', ...extra }] },
    });
    const withSecret = await failure(
      nodeApi.createNamespacedPod({ namespace: 'default', body: mirror('m1', { envFrom: [{ secretRef: { name: 'used' } }] }) as never }),
    );
    assert.deepEqual([withSecret.code, /can not create pods that reference secrets/.test(withSecret.message)], [403, true]);
    const created = fromApi<Pod>(await nodeApi.createNamespacedPod({ namespace: 'default', body: mirror('m2', {}) as never }));
    assert.equal(created.spec.serviceAccountName, undefined, 'mirror pods get no service account');
    assert.equal(created.spec.volumes, undefined);
    // Status of its own pods only, and validated.
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    await nodeApi.patchNamespacedPodStatus({ name: 'on-n1', namespace: 'default', body: { status: { phase: 'Running' } } }, mergePatch);
    const bad = await failure(
      nodeApi.patchNamespacedPodStatus(
        {
          name: 'on-n1',
          namespace: 'default',
          body: { status: { podIP: 'not-an-ip', qosClass: 'Guaranteed', containerStatuses: [{ name: 'zz' }] } },
        },
        mergePatch,
      ),
    );
    assert.equal(bad.code, 422);
    assert.match(bad.message, /status.podIP: Invalid value: "not-an-ip"/);
    assert.match(bad.message, /status.qosClass: Invalid value: "Guaranteed": field is immutable/);
    assert.match(bad.message, /status.containerStatuses\[0\].name: NotFound/);
    const notMine = await failure(nodeApi.patchNamespacedPodStatus({ name: 'w1', namespace: 'default', body: { status: {} } }, mergePatch));
    assert.equal(notMine.code, 403);
    assert.equal(
      (
        await failure(
          nodeApi.patchNamespacedPod({ name: 'on-n1', namespace: 'default', body: { metadata: { labels: { a: 'b' } } } }, mergePatch),
        )
      ).code,
      403,
    );
    const node = fromApi<{ status?: object }>(await nodeApi.readNode({ name: 'n1' }));
    const badNode = await failure(
      nodeApi.replaceNodeStatus({
        name: 'n1',
        body: { ...node, status: { capacity: { cpu: 'lots' }, conditions: [{ type: 'Ready', status: 'Yes' }] } } as never,
      }),
    );
    assert.equal(badNode.code, 422);
    assert.match(badNode.message, /status.capacity\[cpu\]: Invalid value: "lots"/);
  });

  test('pods/binding and pods/eviction; pods/log answers as when the kubelet cannot be reached', async () => {
    await core.createNamespacedPod({ namespace: 'default', body: pod('to-bind') as never });
    await core.createNamespacedPodBinding({
      name: 'to-bind',
      namespace: 'default',
      body: { metadata: { name: 'to-bind' }, target: { apiVersion: 'v1', kind: 'Node', name: 'n1' } } as never,
    });
    const bound = fake.get('pods', 'default', 'to-bind') as unknown as Pod;
    assert.equal(bound.spec.nodeName, 'n1');
    assert.equal(bound.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status, 'True');
    const again = await failure(
      core.createNamespacedPodBinding({
        name: 'to-bind',
        namespace: 'default',
        body: { metadata: { name: 'to-bind' }, target: { name: 'n2' } } as never,
      }),
    );
    assert.equal(again.code, 409);
    const log = await failure(core.readNamespacedPodLog({ name: 'to-bind', namespace: 'default' }));
    assert.equal(log.code, 500, 'n1 has no kubelet endpoint');
    assert.equal((await failure(core.readNamespacedPodLog({ name: 'to-bind', namespace: 'default', container: 'nope' }))).code, 400);
    await core.createNamespacedPodEviction({
      name: 'to-bind',
      namespace: 'default',
      body: { metadata: { name: 'to-bind', namespace: 'default' }, deleteOptions: { gracePeriodSeconds: 0 } } as never,
    });
    assert.equal(fake.get('pods', 'default', 'to-bind'), undefined);
  });

  test('pods/log reaches the kubelet port over HTTPS with the kubelet client certificate of its CA', async () => {
    const { cert, key } = await selfSignedCertificate();
    const seen: { user?: string; authorized: boolean; path?: string }[] = [];
    const kubelet = createHttpsServer({ cert, key, ca: fake.kubeletClientCA, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const socket = req.socket as TLSSocket;
      seen.push({ user: socket.getPeerCertificate().subject?.CN as string | undefined, authorized: socket.authorized, path: req.url });
      res.end('a log line\n');
    });
    await new Promise<void>((resolve) => kubelet.listen(0, '127.0.0.1', resolve));
    try {
      const port = (kubelet.address() as AddressInfo).port;
      fake.create('nodes', { metadata: { name: 'tls-node' } });
      fake.update(
        'nodes',
        undefined,
        'tls-node',
        {
          ...fake.get('nodes', undefined, 'tls-node')!,
          status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } },
        },
        'status',
      );
      await core.createNamespacedPod({ namespace: 'default', body: pod('logged', 'tls-node') as never });
      const text = await core.readNamespacedPodLog({ name: 'logged', namespace: 'default', tailLines: 5 });
      assert.equal(text, 'a log line\n');
      assert.deepEqual(seen, [
        { user: 'kube-apiserver-kubelet-client', authorized: true, path: '/containerLogs/default/logged/c?tailLines=5' },
      ]);
    } finally {
      kubelet.closeAllConnections();
      await new Promise((resolve) => kubelet.close(resolve));
    }
  });

  test('TokenReview and SubjectAccessReview: who a token is, and what a user may do on nodes', async () => {
    const config = fake.kubeConfig();
    const authn = config.makeApiClient(AuthenticationV1Api);
    const authz = config.makeApiClient(AuthorizationV1Api);
    const review = async (token: string, audiences?: string[]) =>
      fromApi<V1TokenReviewStatus | undefined>(
        (await authn.createTokenReview({ body: { spec: { token, ...(audiences ? { audiences } : {}) } } })).status,
      );
    const viewer = fake.userToken('viewer', { 'nodes/proxy': ['get'] }, ['viewers']);
    assert.deepEqual(await review(viewer), {
      authenticated: true,
      user: { username: 'viewer', groups: ['viewers', 'system:authenticated'] },
      audiences: ['https://kubernetes.default.svc.cluster.local'],
    });
    assert.equal((await review(fake.nodeToken('n9')))?.user?.username, 'system:node:n9');
    assert.equal((await review(fake.token))?.user?.groups?.includes('system:masters'), true);
    const unknown = await review('no-such-token');
    assert.equal(unknown?.authenticated, undefined);
    assert.match(unknown?.error ?? '', /invalid bearer token/);
    assert.match((await review(viewer, ['https://elsewhere']))?.error ?? '', /invalid for the target audiences/);
    assert.equal((await failure(authn.createTokenReview({ body: { spec: {} as never } }))).code, 400);

    const access = async (user: string, groups: string[], verb: string, subresource: string) =>
      fromApi<V1SubjectAccessReviewStatus | undefined>(
        (
          await authz.createSubjectAccessReview({
            body: { spec: { user, groups, resourceAttributes: { verb, resource: 'nodes', subresource, name: 'n9' } } },
          })
        ).status,
      );
    assert.deepEqual(await access('viewer', ['viewers', 'system:authenticated'], 'get', 'proxy'), { allowed: true });
    const denied = await access('viewer', ['viewers', 'system:authenticated'], 'create', 'proxy');
    assert.equal(denied?.allowed, false);
    assert.match(denied?.reason ?? '', /User "viewer" cannot create resource "nodes\/proxy"/);
    assert.equal((await access('system:node:n9', ['system:nodes', 'system:authenticated'], 'get', 'proxy'))?.allowed, false);
    assert.equal((await access('someone', ['system:masters'], 'create', 'proxy'))?.allowed, true);
    const none = await failure(authz.createSubjectAccessReview({ body: { spec: { user: 'viewer' } } }));
    assert.equal(none.code, 422);
    // A node may ask both, as the system:node role lets a kubelet in webhook mode; a user without the grant may not.
    const asNode = fake.kubeConfig('n9').makeApiClient(AuthenticationV1Api);
    assert.equal((await asNode.createTokenReview({ body: { spec: { token: viewer } } })).status?.authenticated, true);
    const asViewer = new KubeConfig();
    asViewer.loadFromString(fake.kubeconfigYaml().replace(fake.token, viewer));
    assert.equal(
      (await failure(asViewer.makeApiClient(AuthenticationV1Api).createTokenReview({ body: { spec: { token: viewer } } }))).code,
      403,
    );
  });

  test('the real kubectl lists namespaces, nodes and pods', async () => {
    const namespaces = await kubectl(fake, ['get', 'namespaces']);
    assert.equal(namespaces.code, 0, namespaces.stderr);
    assert.match(namespaces.stdout, /^NAME\s+STATUS\s+AGE$/m);
    assert.match(namespaces.stdout, /^kube-system\s+Active\s+\d+s$/m);
    const nodes = await kubectl(fake, ['get', 'nodes', '-o', 'wide']);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.match(nodes.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\s+INTERNAL-IP/m);
    assert.match(nodes.stdout, /^n1\s+Unknown\s+<none>/m);
    const pods = await kubectl(fake, ['get', 'pods', '-A']);
    assert.equal(pods.code, 0, pods.stderr);
    assert.match(pods.stdout, /^NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/m);
    assert.match(pods.stdout, /^default\s+on-n1\s+0\/1\s+Running\s+0\s+\d+s$/m);
    const json = await kubectl(fake, ['get', 'pod', 'on-n1', '-o', 'jsonpath={.spec.serviceAccountName}']);
    assert.equal(json.stdout, 'default');
    const denied = await kubectl(fake, ['get', 'secrets'], 'n1');
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /User "system:node:n1" cannot list resource "secrets"/);
  });

  test("the fake imports nothing of berth's: a default or rule berth lacks cannot hide in it", async () => {
    const dir = path.dirname(fileURLToPath(import.meta.url));
    const sources = (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    assert.ok(sources.length > 10);
    for (const file of sources) {
      const text = await readFile(path.join(dir, file), 'utf8');
      const imports = [...text.matchAll(/^import[^;]*? from '([^']+)';$/gms)].map((m) => m[1]!);
      for (const from of imports) assert.ok(!from.startsWith('.') || /^\.\/[\w-]+\.ts$/.test(from), `${file} imports ${from}`);
    }
  });

  test('HTTPS with its own certificate; a client without the token gets 401', async () => {
    assert.match(fake.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const config = fake.kubeConfig();
    config.loadFromString(fake.kubeconfigYaml().replace(/ {4}token: \S+/, '    token: wrong'));
    assert.equal((await failure(config.makeApiClient(CoreV1Api).listNamespace())).code, 401);
  });

  test('leases in kube-node-lease', async () => {
    const body = {
      metadata: { name: 'node1', namespace: 'kube-node-lease' },
      spec: { holderIdentity: 'node1', leaseDurationSeconds: 40, renewTime: '2026-01-01T00:00:00.000000Z' },
    };
    await coordination.createNamespacedLease({ namespace: 'kube-node-lease', body: body as never });
    const lease = fromApi<{ metadata: { resourceVersion: string }; spec: { renewTime: string } }>(
      await coordination.readNamespacedLease({ name: 'node1', namespace: 'kube-node-lease' }),
    );
    assert.equal(lease.spec.renewTime, '2026-01-01T00:00:00.000000Z');
    assert.ok(Number(lease.metadata.resourceVersion) > 0);
  });
});
