// End to end: `berth node --kubeconfig` as its own process, with the cri provider on a real berth
// daemon, against the fake API server. A pod bound to the node pulls its image from a registry
// that wants credentials, through the pod's imagePullSecrets; its status and events reach the
// API; a pod without the secret reports the pull failure; deletion honours the grace period and
// leaves nothing behind; a static pod gets a mirror pod with its status. The real kubectl lists the
// pods and the node, and its logs, exec, attach and port-forward reach the node through the API
// server, whose kubelet client certificate the node's HTTPS port checks; the node runs in webhook
// mode, so bearer tokens get in as TokenReview and SubjectAccessReview decide.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { KubeEvent, Node, Pod } from '../../src/agent/k8s-types.ts';
import { nodeApiFetch } from '../../src/cli/kube/node-api-endpoint.ts';
import { ContainerState } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { type ApiObject, type FakeApiServer, startFakeApiServer } from '../fake-apiserver/fake-apiserver.ts';
import { kubectl, spawnKubectl } from '../fake-apiserver/kubectl.ts';
import { pushImage } from '../support/image-builder.ts';
import { freePort } from '../support/ports.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startBerthRuntime } from './support/berth-runtime.ts';
import { busyboxImage } from './support/images.ts';
import {
  apiPodsReport,
  BERTH,
  idsOf,
  makeNodeDirs,
  type NodeProcess,
  nodeSocket,
  runtimeObjectsOf as objectsIn,
  removeDir,
  spawnKubeconfigNode,
  startRegistryWithBaseImages,
} from './support/node-harness.ts';
import type { RuntimeUnderTest } from './support/runtime-under-test.ts';
import { waitFor } from './support/wait-for.ts';

const run = promisify(execFile);
const NODE = 'node1';
const CREDENTIALS = { username: 'puller', password: 'pull-s3cret' };

describe('berth node --kubeconfig, cri provider, berth daemon, fake API server', { timeout: 300_000 }, () => {
  let dir: string;
  let registry: TestRegistry | undefined;
  let privateRegistry: TestRegistry | undefined;
  let runtime: RuntimeUnderTest | undefined;
  let fake: FakeApiServer | undefined;
  let nodeProcess: NodeProcess | undefined;
  let apiPort = 0;
  let privateImage = '';

  const apiPod = (name: string) => fake?.get('pods', 'default', name) as unknown as Pod | undefined;
  const describeState = () =>
    `${apiPodsReport(fake)}\nnode log tail:\n${nodeProcess?.log().slice(-6000) ?? ''}\ndaemon log tail:\n${runtime?.logs().slice(-3000) ?? ''}`;
  const eventsOf = (uid: string) =>
    (fake?.list('events', 'default') ?? []).map((e) => e as unknown as KubeEvent).filter((e) => e.involvedObject.uid === uid);

  const runtimeObjectsOf = (uid: string) => objectsIn(runtime!, uid);

  before(async () => {
    ({ dir } = await makeNodeDirs('berth-node-api-cri-'));
    registry = await startRegistryWithBaseImages();
    privateRegistry = await startRegistry({ auth: CREDENTIALS });
    await pushImage(privateRegistry, 'team/busybox:1', busyboxImage(), { auth: CREDENTIALS });
    privateImage = `${privateRegistry.host}/team/busybox:1`;
    runtime = await startBerthRuntime(registry, {
      registries: { [privateRegistry.host]: { mirrors: [], insecure: true } },
      subnet: '10.93.0.0/24',
    });
    fake = await startFakeApiServer({ bookmarkIntervalMs: 500 });
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfigYaml(NODE));
    apiPort = await freePort();
    nodeProcess = await spawnKubeconfigNode({
      kubeconfig,
      kubeletClientCA: fake.kubeletClientCA,
      runtime,
      nodeName: NODE,
      apiPort,
      dir,
      // Webhook mode, as kubeadm sets it up: tokens by TokenReview, decisions by SubjectAccessReview.
      extraArgs: ['--log-level', 'info', '--authentication-token-webhook', 'true', '--authorization-mode', 'Webhook'],
    });
  });

  after(async () => {
    if (process.env.BERTH_TEST_NODE_LOG) await writeFile(process.env.BERTH_TEST_NODE_LOG, nodeProcess?.log() ?? '');
    await nodeProcess?.kill();
    await runtime?.stop();
    await fake?.close();
    await privateRegistry?.stop();
    await registry?.stop();
    await removeDir(dir);
  });

  test('the node registers with the runtime version and becomes Ready; the node API answers', async () => {
    const node = await waitFor(
      'the Node Ready',
      () => {
        const n = fake!.get('nodes', undefined, NODE) as unknown as Node | undefined;
        return n?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? n : undefined;
      },
      { timeoutMs: 30_000, describe: describeState },
    );
    assert.equal(node.status?.nodeInfo?.containerRuntimeVersion, 'berth://0.1.0');
    assert.deepEqual(node.status?.addresses?.[0], { type: 'InternalIP', address: '127.0.0.1' });
    assert.equal(node.status?.daemonEndpoints?.kubeletEndpoint?.Port, apiPort);
    assert.equal((await nodeApiFetch(nodeSocket(dir), '/healthz')).status, 200);
    // The Lease is taken after registration, in its own loop: it may come just after Ready.
    await waitFor('the node Lease', () => fake!.get('leases', 'kube-node-lease', NODE), { timeoutMs: 10_000, describe: describeState });
  });

  test('a pod pulls its image with the credentials of its imagePullSecrets, runs, and reports to the API', async () => {
    const auth = Buffer.from(`${CREDENTIALS.username}:${CREDENTIALS.password}`).toString('base64');
    const dockerConfig = { auths: { [privateRegistry!.host]: { auth } } };
    fake!.create('secrets', {
      metadata: { name: 'regcred', namespace: 'default' },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON.stringify(dockerConfig)).toString('base64') },
    });
    const spec = (withSecret: boolean, imagePullPolicy = 'IfNotPresent') => ({
      nodeName: NODE,
      terminationGracePeriodSeconds: 3,
      ...(withSecret ? { imagePullSecrets: [{ name: 'regcred' }] } : {}),
      containers: [
        {
          name: 'main',
          image: privateImage,
          imagePullPolicy,
          command: ['sh', '-c', "trap 'echo ignoring TERM' TERM; echo started; while :; do sleep 1; done"],
          readinessProbe: { exec: { command: ['true'] }, periodSeconds: 1 },
        },
      ],
    });
    const created = fake!.create('pods', { metadata: { name: 'private', namespace: 'default' }, spec: spec(true) } as ApiObject);
    const uid = created.metadata.uid!;
    const status = await waitFor(
      'the pod Running and Ready in the API',
      () => {
        const s = apiPod('private')?.status;
        return s?.phase === 'Running' && s.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? s : undefined;
      },
      { timeoutMs: 90_000, describe: describeState },
    );
    const main = status.containerStatuses?.[0];
    assert.match(main?.containerID ?? '', /^berth:\/\/[0-9a-f]{64}$/);
    assert.match(main?.imageID ?? '', /sha256:[0-9a-f]{64}/);
    assert.ok(status.podIP?.startsWith('10.93.0.'), `pod IP ${status.podIP}`);
    assert.equal(status.hostIP, '127.0.0.1');
    await waitFor('events Pulling, Pulled, Created, Started', () => {
      const reasons = new Set(eventsOf(uid).map((e) => e.reason));
      return ['Pulling', 'Pulled', 'Created', 'Started'].every((r) => reasons.has(r)) ? true : undefined;
    });
    const started = eventsOf(uid).find((e) => e.reason === 'Started')!;
    assert.deepEqual(
      [started.message, started.involvedObject.fieldPath, started.source?.component],
      ['Started container main', 'spec.containers{main}', 'kubelet'],
    );
    // The kubectl-style CLI through the node API.
    const { stdout } = await run(BERTH, ['get', 'pods', '--node-api', nodeSocket(dir)]);
    assert.match(stdout, /^private +1\/1 +Running +0 +\w+ +10\.93\.0\.\d+$/m);

    // Without the secret a pull fails as the kubelet reports it. (With IfNotPresent the image now
    // on the node would be used without credentials, as with the kubelet: hence Always.)
    const denied = fake!.create('pods', { metadata: { name: 'denied', namespace: 'default' }, spec: spec(false, 'Always') } as ApiObject);
    const waiting = await waitFor(
      'ErrImagePull or ImagePullBackOff',
      () => {
        const reason = apiPod('denied')?.status?.containerStatuses?.[0]?.state.waiting?.reason;
        return reason === 'ErrImagePull' || reason === 'ImagePullBackOff' ? reason : undefined;
      },
      { timeoutMs: 60_000, describe: describeState },
    );
    assert.ok(waiting);
    await waitFor('a Failed event', () =>
      eventsOf(denied.metadata.uid!).some((e) => e.reason === 'Failed' && e.type === 'Warning') ? true : undefined,
    );
    fake!.delete('pods', 'default', 'denied', { gracePeriodSeconds: 1 });
    await waitFor('denied gone', () => (apiPod('denied') === undefined ? true : undefined), { timeoutMs: 30_000, describe: describeState });

    // A pod with an emptyDir runs; its volume lives under --root-dir until the pod is deleted.
    const mounts = fake!.create('pods', {
      metadata: { name: 'mounts', namespace: 'default' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        volumes: [{ name: 'scratch', emptyDir: {} }],
        containers: [
          { name: 'main', image: 'busybox:1.36', command: ['sleep', '3600'], volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] },
        ],
      },
    } as ApiObject);
    await waitFor(
      'the pod with an emptyDir running',
      () => (apiPod('mounts')?.status?.containerStatuses?.[0]?.state.running !== undefined ? true : undefined),
      { timeoutMs: 60_000, describe: describeState },
    );
    const podDir = path.join(dir, 'node-root', 'pods', mounts.metadata.uid!);
    assert.ok(existsSync(path.join(podDir, 'volumes', 'kubernetes.io~empty-dir', 'scratch')), 'the emptyDir under --root-dir');
    fake!.delete('pods', 'default', 'mounts', { gracePeriodSeconds: 1 });
    await waitFor('mounts gone', () => (apiPod('mounts') === undefined ? true : undefined), { timeoutMs: 30_000, describe: describeState });
    await waitFor('its pod directory removed', () => (existsSync(podDir) ? undefined : true), { timeoutMs: 10_000 });
  });

  test('the real kubectl through the API server: pods as the node reports them, logs and exec reach the node', async () => {
    const pods = await kubectl(fake!, ['get', 'pods', '-o', 'wide']);
    assert.equal(pods.code, 0, pods.stderr);
    assert.match(pods.stdout, /^private\s+1\/1\s+Running\s+0\s+\S+\s+10\.93\.0\.\d+\s+node1\s/m);
    const nodes = await kubectl(fake!, ['get', 'nodes', '-o', 'wide']);
    assert.match(nodes.stdout, /^node1\s+Ready\s+<none>\s+\S+\s+v1\.\d+\.\d+\S*\s+127\.0\.0\.1\s+berth:\/\/0\.1\.0$/m);
    const logs = await kubectl(fake!, ['logs', 'private']);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^started$/m);
    const exec = await kubectl(fake!, ['exec', 'private', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.deepEqual([exec.code, exec.stdout, exec.stderr.split('\n')[0]], [3, 'out\n', 'err'], exec.stderr);
    const proxied = fake!.requests.filter((r) => r.path.startsWith('/api/v1/namespaces/default/pods/private/')).map((r) => r.path);
    assert.ok(proxied.includes('/api/v1/namespaces/default/pods/private/log'), proxied.join());
    assert.ok(proxied.includes('/api/v1/namespaces/default/pods/private/exec'), proxied.join());
  });

  test("bearer tokens on the node's HTTPS port: checked by TokenReview, authorized by SubjectAccessReview", async () => {
    const status = async (token: string) => {
      const { stdout } = await run('curl', [
        ...['-sk', '--max-time', '10', '-o', '/dev/null', '-w', '%{http_code}'],
        ...['-H', `Authorization: Bearer ${token}`, `https://127.0.0.1:${apiPort}/containerLogs/default/private/main`],
      ]);
      return Number(stdout);
    };
    assert.equal(await status(fake!.userToken('log-reader', { 'nodes/proxy': ['get'] })), 200);
    assert.equal(await status(fake!.userToken('stats-only', { 'nodes/stats': ['get'] })), 403);
    assert.equal(await status('a-token-nobody-issued'), 401);
    assert.equal(await status(fake!.token), 200, 'the cluster admin (system:masters)');
  });

  test('deleting the pod stops it within its grace period, deletes it from the API, and leaves nothing behind', async () => {
    const pod = apiPod('private')!;
    const uid = pod.metadata.uid!;
    const known = await runtimeObjectsOf(uid);
    assert.equal(known.sandboxes.length, 1);
    // The container ignores TERM: the order shows the grace period kept — TERM seen, the container
    // running on after it, then killed, and only then gone from the API.
    const log = path.join(dir!, 'pod-logs', `default_private_${uid}`, 'main', '0.log');
    fake!.delete('pods', 'default', 'private', { gracePeriodSeconds: 3 });
    await waitFor(
      'TERM seen by the container',
      async () => ((await readFile(log, 'utf8').catch(() => '')).includes('ignoring TERM') ? true : undefined),
      {
        timeoutMs: 30_000,
        describe: describeState,
      },
    );
    const afterTerm = await runtimeObjectsOf(uid);
    assert.equal(
      afterTerm.containers[0]?.state,
      ContainerState.CONTAINER_RUNNING,
      'the container runs on after TERM, within its grace period',
    );
    assert.ok(apiPod('private') !== undefined, 'still in the API while its container runs');
    await waitFor('gone from the API', () => (apiPod('private') === undefined ? true : undefined), {
      timeoutMs: 60_000,
      describe: describeState,
    });
    const left = await runtimeObjectsOf(uid);
    assert.deepEqual([left.sandboxes.length, left.containers.length], [0, 0]);
    assert.deepEqual(await runtime!.leftovers(idsOf(known)), []);
    const final = fake!.requests.find(
      (r) =>
        r.method === 'DELETE' &&
        r.path === '/api/v1/namespaces/default/pods/private' &&
        (r.body as { gracePeriodSeconds?: number } | undefined)?.gracePeriodSeconds === 0,
    );
    assert.deepEqual((final?.body as { preconditions?: unknown } | undefined)?.preconditions, { uid });
    assert.ok(eventsOf(uid).some((e) => e.reason === 'Killing' && e.message === 'Stopping container main'));
  });

  test('a static pod gets a mirror pod with its live status', async () => {
    await writeFile(
      path.join(dir, 'manifests', 'static.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: static}\nspec:\n  terminationGracePeriodSeconds: 1\n  containers: [{name: c, image: busybox:1.36, command: [sleep, "3600"]}]\n',
    );
    const mirror = await waitFor(
      'the mirror pod Running',
      () => {
        const m = apiPod(`static-${NODE}`);
        return m?.status?.phase === 'Running' ? m : undefined;
      },
      { timeoutMs: 60_000, describe: describeState },
    );
    assert.equal(mirror.metadata.annotations?.['kubernetes.io/config.mirror'] !== undefined, true);
    assert.ok(mirror.status?.podIP?.startsWith('10.93.0.'));
  });

  test('kubectl attach and port-forward through the API server reach pods on the node', async () => {
    fake!.create('pods', {
      metadata: { name: 'web', namespace: 'default' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: 'busybox:1.36',
            command: ['sh', '-c', 'echo hello-through-the-api > /tmp/index.html; exec httpd -f -p 8080 -h /tmp'],
          },
        ],
      },
    } as ApiObject);
    await waitFor('web running', () => (apiPod('web')?.status?.containerStatuses?.[0]?.state.running ? true : undefined), {
      timeoutMs: 60_000,
      describe: describeState,
    });
    // attach: the container's stdin and stdout through the API server.
    fake!.create('pods', {
      metadata: { name: 'reader', namespace: 'default' },
      spec: {
        nodeName: NODE,
        terminationGracePeriodSeconds: 1,
        containers: [
          {
            name: 'main',
            image: 'busybox:1.36',
            stdin: true,
            stdinOnce: true,
            command: ['sh', '-c', 'while read line; do echo got:$line; done'],
          },
        ],
      },
    } as ApiObject);
    await waitFor('reader running', () => (apiPod('reader')?.status?.containerStatuses?.[0]?.state.running ? true : undefined), {
      timeoutMs: 60_000,
      describe: describeState,
    });
    const attached = await kubectl(fake!, ['attach', '-i', 'reader', '-c', 'main'], undefined, 'hello\n');
    assert.equal(attached.code, 0, attached.stderr);
    assert.match(attached.stdout, /^got:hello$/m, attached.stderr);
    assert.ok(fake!.requests.some((r) => r.path === '/api/v1/namespaces/default/pods/reader/attach'));
    fake!.delete('pods', 'default', 'reader', { gracePeriodSeconds: 1 });

    const forward = await spawnKubectl(fake!, ['port-forward', 'pod/web', ':8080']);
    try {
      const port = await waitFor('kubectl forwarding', () => /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(forward.output())?.[1], {
        timeoutMs: 30_000,
        describe: () => forward.output(),
      });
      const answer = await fetch(`http://127.0.0.1:${port}/index.html`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(await answer.text(), 'hello-through-the-api\n');
    } finally {
      await forward.stop();
    }
    assert.ok(fake!.requests.some((r) => r.path === '/api/v1/namespaces/default/pods/web/portforward'));
    fake!.delete('pods', 'default', 'web', { gracePeriodSeconds: 1 });
    await waitFor('web and reader gone', () => (apiPod('web') === undefined && apiPod('reader') === undefined ? true : undefined), {
      timeoutMs: 30_000,
      describe: describeState,
    });
  });

  test('the API server refused nothing the node asked for (Node authorizer, NodeRestriction, validation)', () => {
    const refused = fake!.requests.filter((r) => r.user === `system:node:${NODE}` && (r.status === 403 || r.status === 422));
    assert.deepEqual(refused, []);
  });

  test('SIGTERM stops the node; its pods keep running', async () => {
    const staticUid = apiPod(`static-${NODE}`)!.metadata.annotations!['kubernetes.io/config.mirror']!;
    const code = await nodeProcess!.terminate();
    assert.equal(code, 0, nodeProcess!.log().slice(-3000));
    const { sandboxes } = await runtimeObjectsOf(staticUid);
    assert.equal(sandboxes.length, 1, 'the static pod still runs');
  });
});
