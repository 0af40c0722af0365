// What a pod from a real API server needs, against a real berth daemon: `berth node --kubeconfig`
// on the fake API server runs a pod with the kube-api-access projected volume the ServiceAccount
// admission adds (a bound token from the TokenRequest API, the cluster's CA, the namespace) and the
// service environment variables (the kubernetes service, the namespace's services unless
// enableServiceLinks is false), while a static pod gets no token; then, in standalone mode, a
// static pod with a serviceAccountToken source waits with FailedMount. Deleting the pods leaves no
// tmpfs and no pod directory behind.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pod } from '../../src/agent/k8s-types.ts';
import type { RunningNode } from '../../src/agent/node.ts';
import type { PodProvider } from '../../src/agent/provider.ts';
import { nodeApiFetch } from '../../src/cli/kube/node-api-endpoint.ts';
import { listMountPoints } from '../../src/snapshot/mount.ts';
import { type ApiObject, type FakeApiServer, startFakeApiServer } from '../fake-apiserver/fake-apiserver.ts';
import { freePort } from '../support/ports.ts';
import type { TestRegistry } from '../support/registry.ts';
import { startBerthRuntime } from './support/berth-runtime.ts';
import {
  apiPodsReport,
  makeNodeDirs,
  type NodeProcess,
  nodeSocket,
  podsReport,
  removeDir,
  runtimeObjectsOf,
  spawnKubeconfigNode,
  startCriNode,
  startRegistryWithBaseImages,
  waitForLogText,
} from './support/node-harness.ts';
import type { RuntimeUnderTest } from './support/runtime-under-test.ts';
import { waitFor } from './support/wait-for.ts';

const SUBNET = '10.81.0.0/24';
const NODE = 'sanode';
const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const printAll = [
  'sh',
  '-c',
  `echo TOKEN=$(cat ${SA_DIR}/token); echo CA=$(cat ${SA_DIR}/ca.crt | tr -d '\\n'); echo NS=$(cat ${SA_DIR}/namespace); ` +
    `env | grep -E '_SERVICE_|_PORT' | sort; echo END; exec sleep 3600`,
];

const mountsUnder = async (dir: string) => (await listMountPoints()).filter((m) => m.startsWith(`${dir}/`));

describe('berth node: service account tokens, projected volumes and service variables, berth daemon', { timeout: 300_000 }, () => {
  let dir: string;
  let registry: TestRegistry | undefined;
  let runtime: RuntimeUnderTest | undefined;
  let fake: FakeApiServer | undefined;
  let nodeProcess: NodeProcess | undefined;
  let standalone: { provider: PodProvider; node: RunningNode } | undefined;
  let apiPort = 0;

  const apiPod = (name: string) => fake?.get('pods', 'shop', name) as unknown as Pod | undefined;
  const describeState = () => `${apiPodsReport(fake)}\nnode log tail:\n${nodeProcess?.log().slice(-5000) ?? ''}`;
  const logsOf = async (pod: string) => {
    const res = await nodeApiFetch(nodeSocket(dir), `/containerLogs/shop/${pod}/main`, AbortSignal.timeout(5000));
    return res.ok ? res.text() : undefined;
  };
  const outputOf = (pod: string) =>
    waitFor(
      `${pod}: its output`,
      async () => {
        const text = await logsOf(pod);
        return text?.includes('END') ? text : undefined;
      },
      {
        timeoutMs: 90_000,
        describe: describeState,
      },
    );
  // The ServiceAccount admission adds the kube-api-access-* volume and its mount.
  const podWith = (name: string, extra: Partial<Pod['spec']> = {}) =>
    fake!.create('pods', {
      metadata: { name, namespace: 'shop' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: 'busybox:1.36',
            command: printAll,
            env: [{ name: 'SHOP_DB_SERVICE_PORT', value: 'explicit-wins' }],
          },
        ],
        ...extra,
      },
    } as ApiObject) as unknown as Pod;

  before(async () => {
    ({ dir } = await makeNodeDirs('berth-node-sa-'));
    registry = await startRegistryWithBaseImages();
    runtime = await startBerthRuntime(registry, { subnet: SUBNET });
    fake = await startFakeApiServer({ bookmarkIntervalMs: 500 });
    // The namespace (its controllers add the default service account and kube-root-ca.crt) and
    // the API server's own service.
    fake.create('namespaces', { metadata: { name: 'shop' } });
    fake.create('services', {
      metadata: { name: 'kubernetes', namespace: 'default' },
      spec: { clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] },
    });
    fake.create('services', {
      metadata: { name: 'shop-db', namespace: 'shop' },
      spec: { clusterIP: '10.96.5.5', ports: [{ port: 5432 }, { name: 'metrics', port: 9187, protocol: 'TCP' }] },
    });
    fake.create('services', { metadata: { name: 'elsewhere', namespace: 'default' }, spec: { ports: [{ port: 80 }] } });
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfigYaml(NODE));
    apiPort = await freePort();
    nodeProcess = await spawnKubeconfigNode({ kubeconfig, kubeletClientCA: fake.kubeletClientCA, runtime, nodeName: NODE, apiPort, dir });
  });

  after(async () => {
    await nodeProcess?.kill();
    await standalone?.node.stop();
    await standalone?.provider.close?.();
    await runtime?.stop();
    await fake?.close();
    await registry?.stop();
    await removeDir(dir);
  });

  test('a pod with the kube-api-access volume reads its bound token, the CA, its namespace and the service variables', async () => {
    const pod = podWith('sa-reader');
    const volume = pod.spec.volumes?.find((v) => v.name.startsWith('kube-api-access-'));
    assert.ok(volume, 'the admission added the volume');
    const output = await outputOf('sa-reader');
    const token = /^TOKEN=(\S+)$/m.exec(output)?.[1];
    assert.ok(token, output);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    assert.equal(claims.sub, 'system:serviceaccount:shop:default');
    assert.deepEqual(claims['kubernetes.io'].pod, { name: 'sa-reader', uid: pod.metadata.uid });
    assert.ok(claims.exp - claims.iat === 3607, 'the lifetime asked for');
    const requests = fake!.requests.filter((r) => r.path === '/api/v1/namespaces/shop/serviceaccounts/default/token');
    assert.equal(requests.length, 1, 'one TokenRequest: the token is cached');
    assert.deepEqual((requests[0]!.body as { spec: unknown }).spec, {
      expirationSeconds: 3607,
      boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'sa-reader', uid: pod.metadata.uid },
    });
    assert.equal(/^CA=(.*)$/m.exec(output)?.[1], fake!.caCertificate.replaceAll('\n', ''));
    assert.match(output, /^NS=shop$/m);
    assert.match(output, /^KUBERNETES_SERVICE_HOST=10\.96\.0\.1$/m);
    assert.match(output, /^KUBERNETES_SERVICE_PORT=443$/m);
    assert.match(output, /^KUBERNETES_PORT_443_TCP=tcp:\/\/10\.96\.0\.1:443$/m);
    assert.match(output, /^SHOP_DB_SERVICE_HOST=10\.96\.5\.5$/m);
    assert.match(output, /^SHOP_DB_SERVICE_PORT=explicit-wins$/m);
    assert.match(output, /^SHOP_DB_SERVICE_PORT_METRICS=9187$/m);
    assert.match(output, /^SHOP_DB_PORT_9187_TCP_ADDR=10\.96\.5\.5$/m);
    assert.doesNotMatch(output, /ELSEWHERE_/, "another namespace's services are not linked");
    const volumeDir = path.join(dir, 'node-root', 'pods', pod.metadata.uid!, 'volumes', 'kubernetes.io~projected', volume.name);
    assert.ok((await listMountPoints()).includes(volumeDir), 'the projected volume is a tmpfs');
  });

  test('enableServiceLinks: false leaves only the kubernetes service variables', async () => {
    podWith('no-links', { enableServiceLinks: false });
    const output = await outputOf('no-links');
    assert.match(output, /^KUBERNETES_SERVICE_HOST=10\.96\.0\.1$/m);
    assert.doesNotMatch(output, /SHOP_DB_SERVICE_HOST/);
    assert.match(output, /^SHOP_DB_SERVICE_PORT=explicit-wins$/m);
  });

  test('a static pod gets no token: its mirror pod is refused (as on a kubelet), it waits with FailedMount', async () => {
    await writeFile(
      path.join(dir, 'manifests', 'static-token.json'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'static-token', namespace: 'shop' },
        spec: {
          terminationGracePeriodSeconds: 1,
          volumes: [{ name: 'token', projected: { sources: [{ serviceAccountToken: { path: 'token' } }] } }],
          containers: [
            { name: 'main', image: 'busybox:1.36', command: ['sleep', '3600'], volumeMounts: [{ name: 'token', mountPath: '/t' }] },
          ],
        },
      }),
    );
    const name = `static-token-${NODE}`;
    const staticPod = async () => {
      const res = await nodeApiFetch(nodeSocket(dir), '/pods', AbortSignal.timeout(5000));
      return ((await res.json()) as { items: Pod[] }).items.find((p) => p.metadata.name === name);
    };
    const waiting = await waitFor(
      'the mount failure on the static pod',
      async () => {
        const w = (await staticPod())?.status?.containerStatuses?.[0]?.state.waiting;
        return w?.message?.startsWith('MountVolume') ? w : undefined;
      },
      { timeoutMs: 60_000, describe: describeState },
    );
    assert.deepEqual(waiting, {
      reason: 'ContainerCreating',
      message:
        'MountVolume.SetUp failed for volume "token" : failed to fetch token: a static pod cannot have service account tokens (the API server knows only its mirror pod)',
    });
    await waitForLogText('the refused mirror pod in the log', async () => nodeProcess!.log(), 'creating a mirror pod failed', {
      timeoutMs: 30_000,
    });
    assert.match(nodeProcess!.log(), /mirror pods may not use service account token volume projections/);
    assert.equal(apiPod(name), undefined, 'no mirror pod');
    const refused = fake!.requests.filter((r) => r.method === 'POST' && r.path === '/api/v1/namespaces/shop/pods' && r.status === 403);
    assert.ok(refused.length >= 1);
    assert.equal(
      fake!.requests.filter((r) => r.path.endsWith('/token')).length,
      2,
      'no TokenRequest for the static pod (one each for the two bound pods)',
    );
  });

  test('deleting the pods unmounts their volumes and removes their directories', async () => {
    await unlink(path.join(dir, 'manifests', 'static-token.json'));
    const uids = ['sa-reader', 'no-links'].map((name) => apiPod(name)!.metadata.uid!);
    for (const name of ['sa-reader', 'no-links']) fake!.delete('pods', 'shop', name, { gracePeriodSeconds: 1 });
    for (const uid of uids) {
      await waitFor(
        `pod ${uid}: gone from the runtime and the node's root`,
        async () => {
          const left = await runtimeObjectsOf(runtime!, uid);
          const podDir = path.join(dir, 'node-root', 'pods', uid);
          return left.sandboxes.length === 0 && !existsSync(podDir) ? true : undefined;
        },
        { timeoutMs: 60_000, describe: describeState },
      );
    }
    assert.equal(apiPod('sa-reader'), undefined);
    await waitFor(
      'no pod directory left',
      async () => ((await readdir(path.join(dir, 'node-root', 'pods')).catch(() => [])).length === 0 ? true : undefined),
      { timeoutMs: 60_000, describe: describeState },
    );
    assert.deepEqual(await mountsUnder(path.join(dir, 'node-root')), []);
    assert.equal(await nodeProcess!.terminate(), 0, nodeProcess!.log().slice(-3000));
  });

  test('the API server refused the node only the mirror pod of the static pod with a token', () => {
    const refused = fake!.requests.filter((r) => r.user === `system:node:${NODE}` && (r.status === 403 || r.status === 422));
    assert.ok(refused.length > 0);
    for (const r of refused) {
      assert.deepEqual(
        [r.method, r.path, (r.body as ApiObject).metadata.name],
        ['POST', '/api/v1/namespaces/shop/pods', `static-token-${NODE}`],
      );
    }
  });

  test('standalone: a static pod with a serviceAccountToken source waits with FailedMount, and goes without a trace', async () => {
    const manifestDir = path.join(dir, 'manifests');
    const rootDir = path.join(dir, 'standalone-root');
    const events: string[] = [];
    standalone = await startCriNode({
      nodeName: 'standalone',
      runtime: runtime!,
      dir,
      manifestDir,
      providerConfig: { rootDir },
      events: { podEvent: (_pod, type, reason, message) => events.push(`${type} ${reason} ${message}`) },
    });
    const manifest = path.join(manifestDir, 'token-static.json');
    await writeFile(
      manifest,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'token-static', namespace: 'default' },
        spec: {
          terminationGracePeriodSeconds: 1,
          volumes: [
            {
              name: 'token',
              projected: {
                sources: [
                  { serviceAccountToken: { path: 'token' } },
                  { downwardAPI: { items: [{ path: 'name', fieldRef: { fieldPath: 'metadata.name' } }] } },
                ],
              },
            },
          ],
          containers: [
            { name: 'main', image: 'busybox:1.36', command: ['sleep', '3600'], volumeMounts: [{ name: 'token', mountPath: '/t' }] },
          ],
        },
      }),
    );
    const node = standalone.node;
    const name = 'token-static-standalone';
    const expected =
      'MountVolume.SetUp failed for volume "token" : failed to fetch token: service account tokens need an API server: berth node runs in standalone mode (start it with --kubeconfig)';
    const waiting = await waitFor(
      'ContainerCreating with the mount failure',
      () => {
        const w = node.pods().find((p) => p.metadata.name === name)?.status?.containerStatuses?.[0]?.state.waiting;
        return w?.message?.startsWith('MountVolume') ? w : undefined;
      },
      { timeoutMs: 60_000, describe: () => podsReport(node) },
    );
    assert.deepEqual(waiting, { reason: 'ContainerCreating', message: expected });
    assert.ok(events.includes(`Warning FailedMount ${expected}`), events.join('\n'));
    const uid = node.pods().find((p) => p.metadata.name === name)!.metadata.uid!;
    assert.deepEqual((await runtimeObjectsOf(runtime!, uid)).containers, [], 'no container started');
    await unlink(manifest);
    await waitFor(
      'the static pod gone with its directory',
      async () => {
        const gone = node.pods().every((p) => p.metadata.name !== name);
        const left = await runtimeObjectsOf(runtime!, uid);
        return gone && left.sandboxes.length === 0 && !existsSync(path.join(rootDir, 'pods', uid)) ? true : undefined;
      },
      { timeoutMs: 60_000, describe: () => podsReport(node) },
    );
    assert.deepEqual(await mountsUnder(rootDir), []);
    await standalone.node.stop();
    await standalone.provider.close?.();
    standalone = undefined;
    await runtime!.stop();
    assert.deepEqual(await runtime!.hostLeftovers(), []);
  });
});
