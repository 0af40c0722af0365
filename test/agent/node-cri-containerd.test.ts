// berth node with the cri provider against a real containerd (Debian's), started by the test with
// its own root, state, socket, CNI network and a registry on loopback standing in for docker.io
// and registry.k8s.io. Static pods come from a manifest directory the test writes to.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Pod } from '../../src/agent/k8s-types.ts';
import { type RunningNode, runNode } from '../../src/agent/node.ts';
import type { PodProvider } from '../../src/agent/provider.ts';
import { connectCri } from '../../src/cri/cri-client.ts';
import { loadProvider } from '../../src/providers/load-provider.ts';
import { createLogger, silentLogger } from '../../src/util/logger.ts';
import { pushImage } from '../support/image-builder.ts';
import { freePort } from '../support/ports.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startContainerd, type TestContainerd } from './support/containerd.ts';
import { busyboxImage, pauseImage } from './support/images.ts';
import { waitFor } from './support/wait-for.ts';

const run = promisify(execFile);
const NODE_NAME = 'node1';
const logger = process.env.BERTH_TEST_LOG ? createLogger(process.env.BERTH_TEST_LOG) : silentLogger();

const sleeper = `
apiVersion: v1
kind: Pod
metadata:
  name: sleeper
  labels: {app: sleeper}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: busybox:1.36
      command: [sleep, "3600"]
      env: [{name: GREETING, value: hello}]
`;

const job = `
apiVersion: v1
kind: Pod
metadata: {name: job}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 2
  initContainers:
    - {name: prepare, image: busybox:1.36, command: [sh, -c, "echo prepared"]}
  containers:
    - name: work
      image: busybox:1.36
      command: [sh, -c, 'test "$(MSG)" = hi && test "$POD" = job-node1']
      env:
        - {name: MSG, value: hi}
        - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
`;

const web = (hostPort: number) => `
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: httpd
      image: busybox:1.36
      command: [sh, -c, "mkdir -p /www && echo hello-from-web > /www/index.html && exec httpd -f -p 8080 -h /www"]
      ports: [{name: http, containerPort: 8080, hostPort: ${hostPort}}]
      startupProbe: {tcpSocket: {port: http}, periodSeconds: 1, failureThreshold: 30}
      readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1}
      livenessProbe: {exec: {command: [test, -f, /www/index.html]}, periodSeconds: 1, failureThreshold: 2}
`;

const crasher = `
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - {name: main, image: busybox:1.36, command: [sh, -c, "exit 3"]}
`;

describe('berth node, cri provider, containerd', { timeout: 300_000 }, () => {
  let dir: string;
  let manifests: string;
  let registry: TestRegistry | undefined;
  let containerd: TestContainerd | undefined;
  let provider: PodProvider | undefined;
  let node: RunningNode | undefined;

  const stopAll = async () => {
    await node?.stop();
    await provider?.close?.();
    await containerd?.stop();
    await registry?.stop();
  };

  const pod = (name: string): Pod | undefined => node?.pod('default', `${name}-${NODE_NAME}`);
  const describePods = () =>
    `pods: ${JSON.stringify(
      node?.pods().map((p) => ({ name: p.metadata.name, status: p.status })),
      null,
      1,
    )}\ncontainerd log tail:\n${containerd?.logs().slice(-3000) ?? ''}`;

  async function sandboxesOf(uid: string) {
    const cri = connectCri(containerd!.endpoint);
    try {
      return (await cri.runtime.listPodSandbox({ filter: { labelSelector: { 'io.kubernetes.pod.uid': uid } } }, { timeoutMs: 10_000 }))
        .items;
    } finally {
      cri.close();
    }
  }

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-node-test-'));
    manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    registry = await startRegistry();
    await pushImage(registry, 'library/busybox:1.36', busyboxImage());
    await pushImage(registry, 'pause:3.9', pauseImage());
    containerd = await startContainerd({ registryHost: registry.host });
    await startNode();
  });

  async function startNode(): Promise<void> {
    provider = await loadProvider('cri', {
      nodeName: NODE_NAME,
      nodeIP: '127.0.0.1',
      logger,
      signal: new AbortController().signal,
      config: { runtimeEndpoint: containerd!.endpoint, podLogsDir: path.join(dir, 'pod-logs'), callTimeoutMs: 60_000 },
    });
    node = await runNode({
      nodeName: NODE_NAME,
      nodeIP: '127.0.0.1',
      provider,
      logger,
      manifestDir: manifests,
      timings: { relistMs: 500, manifestScanMs: 300, retryBaseMs: 500 },
      apiPort: 0,
    });
  }

  after(async () => {
    await stopAll();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('a sleeping busybox pod becomes Running and Ready', async () => {
    await writeFile(path.join(manifests, 'sleeper.yaml'), sleeper);
    const running = await waitFor(
      'sleeper Running and Ready',
      () => {
        const p = pod('sleeper');
        return p?.status?.phase === 'Running' && p.status.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? p : undefined;
      },
      { timeoutMs: 90_000, describe: describePods },
    );
    const status = running.status!;
    assert.match(status.podIP ?? '', /^10\.99\./);
    assert.equal(status.hostIP, '127.0.0.1');
    const main = status.containerStatuses?.[0];
    assert.equal(main?.name, 'main');
    assert.equal(main?.ready, true);
    assert.equal(main?.restartCount, 0);
    assert.match(main?.containerID ?? '', /^containerd:\/\/[0-9a-f]{64}$/);
    for (const type of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready']) {
      assert.equal(status.conditions?.find((c) => c.type === type)?.status, 'True', type);
    }
    const [sandbox] = await sandboxesOf(running.metadata.uid!);
    assert.equal(sandbox?.labels['io.kubernetes.pod.name'], 'sleeper-node1');
    assert.equal(sandbox?.labels['io.kubernetes.pod.namespace'], 'default');
    assert.equal(sandbox?.labels.app, 'sleeper');
    assert.equal(sandbox?.annotations['kubernetes.io/config.source'], 'file');
  });

  test('a restarted node adopts the pods that kept running', async () => {
    const before = pod('sleeper')!.status!.containerStatuses![0]!;
    await node!.stop();
    await provider!.close?.();
    await startNode();
    const after = await waitFor(
      'sleeper reported again',
      () => {
        const s = pod('sleeper')?.status?.containerStatuses?.[0];
        return s?.state.running !== undefined ? s : undefined;
      },
      { describe: describePods },
    );
    assert.equal(after.containerID, before.containerID, 'the same container, not a new one');
    assert.equal(after.restartCount, 0);
  });

  test('a web server with probes and a hostPort becomes Ready; a failed liveness probe restarts it', async () => {
    const hostPort = await freePort();
    await writeFile(path.join(manifests, 'web.yaml'), web(hostPort));
    const ready = () => pod('web')?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    await waitFor('web Ready', () => (ready() === 'True' ? true : undefined), { timeoutMs: 60_000, describe: describePods });
    const httpd = pod('web')!.status!.containerStatuses![0]!;
    assert.deepEqual([httpd.started, httpd.ready, httpd.restartCount], [true, true, 0]);
    const viaHostPort = await waitFor('the hostPort answers', async () => {
      const res = await fetch(`http://127.0.0.1:${hostPort}/index.html`, { signal: AbortSignal.timeout(2000) });
      return res.ok ? res.text() : undefined;
    });
    assert.equal(viaHostPort, 'hello-from-web\n');

    // Exec through the provider: the page goes, readiness fails, then liveness kills the container.
    const removed = await provider!.runInContainer!(
      'default',
      'web-node1',
      'httpd',
      ['rm', '/www/index.html'],
      {},
      AbortSignal.timeout(10_000),
    );
    assert.equal(removed.exitCode, 0);
    const restarted = await waitFor(
      'httpd restarted after failing its liveness probe',
      () => {
        const s = pod('web')?.status?.containerStatuses?.[0];
        return s !== undefined && s.restartCount >= 1 && s.state.running !== undefined ? s : undefined;
      },
      { timeoutMs: 60_000, describe: describePods },
    );
    assert.ok(restarted.lastState.terminated !== undefined);
    await waitFor('web Ready again', () => (ready() === 'True' ? true : undefined), { timeoutMs: 30_000, describe: describePods });
    await unlink(path.join(manifests, 'web.yaml'));
  });

  test('a pod with an init container and restartPolicy OnFailure completes', async () => {
    await writeFile(path.join(manifests, 'job.yaml'), job);
    const done = await waitFor('job Succeeded', () => (pod('job')?.status?.phase === 'Succeeded' ? pod('job') : undefined), {
      timeoutMs: 90_000,
      describe: describePods,
    });
    const status = done.status!;
    assert.equal(status.initContainerStatuses?.[0]?.state.terminated?.reason, 'Completed');
    assert.equal(status.containerStatuses?.[0]?.state.terminated?.reason, 'Completed');
    assert.equal(status.containerStatuses?.[0]?.state.terminated?.exitCode, 0);
    assert.equal(status.conditions?.find((c) => c.type === 'Initialized')?.status, 'True');
    const logFile = path.join(dir, 'pod-logs', `default_job-node1_${done.metadata.uid}`, 'prepare', '0.log');
    assert.match(await readFile(logFile, 'utf8'), /stdout F prepared/);
    const api = `http://127.0.0.1:${node!.apiPort}`;
    assert.equal(await (await fetch(`${api}/containerLogs/default/job-node1/prepare`)).text(), 'prepared\n');
    assert.match(
      await (await fetch(`${api}/containerLogs/default/job-node1/prepare?timestamps=true`)).text(),
      /^\d{4}-\d\d-\d\dT\S+Z prepared\n$/,
    );
    assert.equal((await fetch(`${api}/containerLogs/default/job-node1/nope`)).status, 404);
    const list = (await (await fetch(`${api}/pods`)).json()) as { items: Pod[] };
    assert.equal(list.items.find((p) => p.metadata.name === 'job-node1')?.status?.phase, 'Succeeded');
  });

  test('a crashing container reaches CrashLoopBackOff', async () => {
    await writeFile(path.join(manifests, 'crasher.yaml'), crasher);
    const looping = await waitFor(
      'crasher in CrashLoopBackOff',
      () => (pod('crasher')?.status?.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff' ? pod('crasher') : undefined),
      { timeoutMs: 60_000, describe: describePods },
    );
    const main = looping.status!.containerStatuses![0]!;
    assert.equal(looping.status!.phase, 'Running');
    assert.equal(main.lastState.terminated?.exitCode, 3);
    assert.equal(main.lastState.terminated?.reason, 'Error');
    assert.ok(main.restartCount >= 1);
    assert.match(main.state.waiting?.message ?? '', /^back-off 10s restarting failed container=main pod=crasher-node1_default\(/);
    await unlink(path.join(manifests, 'crasher.yaml'));
  });

  test('a bad manifest is reported for its own file and disturbs no other pod', async () => {
    await writeFile(path.join(manifests, 'broken.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: broken\n');
    await writeFile(
      path.join(manifests, 'noimage.yaml'),
      'apiVersion: v1\nkind: Pod\nmetadata: {name: noimage}\nspec:\n  containers: [{name: a}, {name: a, image: busybox:1.36}]\n',
    );
    const problems = await waitFor('both problems reported', () => {
      const found = node!.manifestProblems();
      return found.length === 2 ? found : undefined;
    });
    assert.match(problems.find((p) => p.file.endsWith('broken.yaml'))!.errors[0]!, /invalid YAML/);
    assert.deepEqual(problems.find((p) => p.file.endsWith('noimage.yaml'))!.errors, [
      'spec.containers[0].image: Required value',
      'spec.containers[1].name: Duplicate value: "a"',
    ]);
    assert.equal(pod('sleeper')?.status?.phase, 'Running');
    assert.equal(
      node!.pods().some((p) => p.metadata.name?.startsWith('broken') || p.metadata.name?.startsWith('noimage')),
      false,
    );
    await unlink(path.join(manifests, 'broken.yaml'));
    await unlink(path.join(manifests, 'noimage.yaml'));
  });

  test('removing a manifest stops and removes its sandbox', async () => {
    const uid = pod('sleeper')!.metadata.uid!;
    assert.equal((await sandboxesOf(uid)).length, 1);
    await unlink(path.join(manifests, 'sleeper.yaml'));
    await waitFor('sleeper gone from the node', () => (pod('sleeper') === undefined ? true : undefined));
    await waitFor('sleeper sandbox removed', async () => ((await sandboxesOf(uid)).length === 0 ? true : undefined), {
      timeoutMs: 30_000,
      describe: describePods,
    });
    const jobUid = pod('job')!.metadata.uid!;
    await unlink(path.join(manifests, 'job.yaml'));
    await waitFor('job sandbox removed', async () => ((await sandboxesOf(jobUid)).length === 0 ? true : undefined), {
      timeoutMs: 30_000,
      describe: describePods,
    });
  });

  test('stopping leaves nothing on the host', async () => {
    const { dir: ctrdDir, bridge, subnet } = containerd!;
    await stopAll();
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.equal(mounts.includes(ctrdDir), false, 'no mounts under the containerd dir');
    const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
    assert.equal(links.includes(`${bridge}:`), false, 'the bridge is gone');
    const nat = (await run('iptables-save', ['-t', 'nat'])).stdout;
    assert.equal(nat.includes(subnet.split('/')[0]!.split('.').slice(0, 2).join('.') + '.'), false, 'no NAT rules for the subnet');
  });
});
