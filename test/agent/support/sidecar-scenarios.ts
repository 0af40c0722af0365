// Sidecars (restartable init containers), run by berth node with the cri provider against a real
// CRI runtime (node-sidecars-berth.test.ts, node-sidecars-containerd.test.ts): a sidecar serving
// on localhost that the app container reaches once the sidecar's startup probe passed, a crashing
// sidecar restarted while the app keeps running, a Never pod that succeeds when its app container
// completes (its sidecar stopped, not restarted), and a deletion that stops the sidecars after the
// app container, the last declared first.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ContainerStatus, Pod } from '../../../src/agent/k8s-types.ts';
import type { RunningNode } from '../../../src/agent/node.ts';
import type { PodProvider } from '../../../src/agent/provider.ts';
import { ContainerState, PodSandboxState } from '../../../src/cri-api/gen/runtime/v1/api_pb.js';
import type { TestRegistry } from '../../support/registry.ts';
import { nodeGet } from './node-api.ts';
import {
  containerLogText,
  makeNodeDirs,
  podsReport,
  recordingEvents,
  removeDir,
  removeManifestAndCheckGone,
  runtimeLogTail,
  runtimeObjectsOf,
  startCriNode,
  startRuntimeWithRegistry,
  stopNodeStack,
} from './node-harness.ts';
import type { RuntimeUnderTest, StartRuntime } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const NODE_NAME = 'node1';

/** A shell loop that ends at SIGTERM within a second. */
const IDLE = `trap "exit 0" TERM; while :; do sleep 1; done`;
const WGET = `[busybox, wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"]`;

const manifests = {
  /** The sidecar serves only after 2 s; the app fetches once at its start, so it must start after the sidecar's startup probe. */
  web: `
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
    - name: proxy
      image: busybox:1.36
      restartPolicy: Always
      command: [sh, -c, 'mkdir -p /www && echo from-sidecar > /www/index.html && sleep 2 && exec busybox httpd -f -p 127.0.0.1:8080 -h /www']
      startupProbe:
        exec: {command: ${WGET}}
        periodSeconds: 1
        failureThreshold: 30
      readinessProbe:
        exec: {command: ${WGET}}
        periodSeconds: 1
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, 'busybox wget -q -O - http://127.0.0.1:8080/ 2>&1 || echo fetch-failed; ${IDLE}']
`,
  /** restartPolicy Never, yet the sidecar comes back after every exit. */
  flaky: `
apiVersion: v1
kind: Pod
metadata: {name: flaky}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 2
  initContainers:
    - name: helper
      image: busybox:1.36
      restartPolicy: Always
      command: [sh, -c, 'echo helper-up; sleep 2; exit 3']
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, '${IDLE}']
`,
  job: `
apiVersion: v1
kind: Pod
metadata: {name: job}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 5
  initContainers:
    - name: logger
      image: busybox:1.36
      restartPolicy: Always
      command: [sh, -c, '${IDLE}']
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, 'sleep 3; echo job-done']
`,
  /** Every container's preStop tells the test's HTTP server when its stop began; the app takes a second to stop. */
  ordered: (port: number) => `
apiVersion: v1
kind: Pod
metadata: {name: ordered}
spec:
  terminationGracePeriodSeconds: 10
  initContainers:
${['first', 'second']
  .map(
    (name) => `    - name: ${name}
      image: busybox:1.36
      restartPolicy: Always
      command: [sh, -c, '${IDLE}']
      lifecycle:
        preStop:
          httpGet: {host: 127.0.0.1, port: ${port}, path: /prestop/${name}}`,
  )
  .join('\n')}
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, 'trap "sleep 1; exit 0" TERM; while :; do sleep 1; done']
      lifecycle:
        preStop:
          httpGet: {host: 127.0.0.1, port: ${port}, path: /prestop/main}
`,
};

/** The sidecar scenarios against the runtime `start` brings up on `subnet`. */
export function sidecarScenarios(runtimeTitle: string, start: StartRuntime, subnet: string): void {
  describe(`berth node sidecars, cri provider, ${runtimeTitle}`, { timeout: 300_000 }, () => {
    let dir: string;
    let manifestDir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let provider: PodProvider | undefined;
    let node: RunningNode | undefined;
    let hookServer: Server | undefined;
    const hookRequests: { path: string }[] = [];
    /** Runs when the second sidecar's stop begins, before its preStop is answered. */
    let atSecondStop: (() => Promise<void>) | undefined;
    const { events, recorder } = recordingEvents();

    const pod = (name: string): Pod | undefined => node?.pod('default', `${name}-${NODE_NAME}`);
    const initStatus = (name: string, container: string): ContainerStatus | undefined =>
      pod(name)?.status?.initContainerStatuses?.find((s) => s.name === container);
    const appStatus = (name: string): ContainerStatus | undefined => pod(name)?.status?.containerStatuses?.[0];
    const condition = (name: string, type: string) => pod(name)?.status?.conditions?.find((c) => c.type === type);
    const eventsOf = (name: string) => events.filter((e) => e.pod === `${name}-${NODE_NAME}`);
    const describePods = () =>
      `${podsReport(node)}\nevents: ${JSON.stringify(events.slice(-30))}\n${runtimeLogTail(runtimeTitle, runtime, 3000)}`;
    /** How many relists the node has run (its PLEG metric). */
    const relists = async () => {
      const text = await (await nodeGet(node!, '/metrics')).text();
      return Number(/^kubelet_pleg_relist_duration_seconds_count(?:\{\})? (\d+)$/m.exec(text)?.[1]);
    };
    const startPod = (name: string, manifest: string) => writeFile(path.join(manifestDir, `${name}.yaml`), manifest);
    const removeAndCheckGone = (name: string) =>
      removeManifestAndCheckGone({ runtime: runtime!, runtimeTitle, manifestDir, name, pod: () => pod(name), describe: describePods });

    before(async () => {
      ({ dir, manifestDir } = await makeNodeDirs('berth-sidecars-test-'));
      hookServer = createServer((req, res) => {
        hookRequests.push({ path: req.url ?? '' });
        const before = req.url === '/prestop/second' && atSecondStop !== undefined ? atSecondStop() : Promise.resolve();
        before.finally(() => res.end('ok'));
      });
      await new Promise<void>((r) => hookServer!.listen(0, '127.0.0.1', r));
      ({ registry, runtime } = await startRuntimeWithRegistry(start, { subnet }));
      ({ provider, node } = await startCriNode({
        nodeName: NODE_NAME,
        runtime,
        dir,
        manifestDir,
        events: recorder,
        nodeEvents: recorder,
        nodeApi: true,
      }));
    });

    after(async () => {
      await stopNodeStack({ node, provider, runtime, registry });
      hookServer?.closeAllConnections();
      await new Promise((r) => (hookServer ? hookServer.close(r) : r(undefined)));
      await removeDir(dir);
    });

    test('a sidecar serving on localhost: the app container starts once it has started, and reaches it', async () => {
      await startPod('web', manifests.web);
      await waitFor('web Ready', () => (condition('web', 'Ready')?.status === 'True' ? true : undefined), {
        timeoutMs: 90_000,
        describe: describePods,
      });
      const proxy = initStatus('web', 'proxy')!;
      assert.ok(proxy.state.running !== undefined, `proxy: ${JSON.stringify(proxy)}`);
      assert.deepEqual([proxy.started, proxy.ready, proxy.restartCount], [true, true, 0]);
      assert.equal(pod('web')?.status?.phase, 'Running');
      assert.equal(condition('web', 'Initialized')?.status, 'True');
      assert.equal(condition('web', 'ContainersReady')?.status, 'True');
      const started = eventsOf('web').filter((e) => e.reason === 'Started');
      assert.deepEqual(
        started.map((e) => e.container),
        ['proxy', 'main'],
      );
      // The server listens 2 s after the sidecar started and main fetches once, as it starts: what it
      // got shows that it started only after the startup probe saw the server.
      const log = await waitFor('main logged what it fetched', async () => {
        const text = await containerLogText(provider!, `web-${NODE_NAME}`, 'main');
        return text.length > 0 ? text : undefined;
      });
      assert.equal(log, 'from-sidecar\n');
      await removeAndCheckGone('web');
    });

    test('a sidecar that exits is restarted, with back-off, even in a Never pod; the app keeps running', async () => {
      await startPod('flaky', manifests.flaky);
      const main = await waitFor('flaky main running', () => (appStatus('flaky')?.state.running ? appStatus('flaky') : undefined), {
        timeoutMs: 90_000,
        describe: describePods,
      });
      const restarted = await waitFor(
        'helper restarted twice',
        () => {
          const s = initStatus('flaky', 'helper');
          return s !== undefined && s.restartCount >= 2 ? s : undefined;
        },
        { timeoutMs: 60_000, describe: describePods },
      );
      assert.equal(restarted.lastState.terminated?.exitCode, 3);
      assert.equal(restarted.lastState.terminated?.reason, 'Error');
      await waitFor(
        'helper in CrashLoopBackOff',
        () => (initStatus('flaky', 'helper')?.state.waiting?.reason === 'CrashLoopBackOff' ? true : undefined),
        { timeoutMs: 60_000, describe: describePods },
      );
      assert.ok(
        eventsOf('flaky').some((e) => e.reason === 'BackOff' && e.container === 'helper'),
        `a BackOff event: ${JSON.stringify(eventsOf('flaky'))}`,
      );
      const now = appStatus('flaky')!;
      assert.equal(now.containerID, main.containerID, 'the app container is the same one');
      assert.equal(now.restartCount, 0);
      assert.ok(now.state.running !== undefined);
      assert.equal(pod('flaky')?.status?.phase, 'Running');
      assert.equal(condition('flaky', 'Initialized')?.status, 'True');
      await removeAndCheckGone('flaky');
    });

    test('a Never pod whose app container completed is Succeeded, its sidecar stopped and not restarted', async () => {
      await startPod('job', manifests.job);
      await waitFor('job sidecar running', () => (initStatus('job', 'logger')?.state.running ? true : undefined), {
        timeoutMs: 90_000,
        describe: describePods,
      });
      await waitFor('job Succeeded', () => (pod('job')?.status?.phase === 'Succeeded' ? true : undefined), {
        timeoutMs: 60_000,
        describe: describePods,
      });
      const main = appStatus('job')!;
      assert.equal(main.state.terminated?.exitCode, 0);
      assert.equal(main.state.terminated?.reason, 'Completed');
      const logger = initStatus('job', 'logger')!;
      assert.ok(logger.state.terminated !== undefined, `logger: ${JSON.stringify(logger)}`);
      assert.equal(logger.restartCount, 0);
      assert.equal(condition('job', 'Initialized')?.reason, 'PodCompleted');
      assert.equal(condition('job', 'Ready')?.reason, 'PodCompleted');
      const { containers } = await runtimeObjectsOf(runtime!, pod('job')!.metadata.uid!);
      assert.deepEqual(
        containers.map((c) => c.state),
        containers.map(() => ContainerState.CONTAINER_EXITED),
        'nothing of the pod runs',
      );
      assert.equal(containers.filter((c) => c.metadata?.name === 'logger').length, 1, 'the sidecar ran once');
      // The sandbox goes right after the containers (the phase may be reported in between).
      await waitFor(
        'job sandbox stopped',
        async () => {
          const { sandboxes } = await runtimeObjectsOf(runtime!, pod('job')!.metadata.uid!);
          return sandboxes.length === 1 && sandboxes[0]!.state === PodSandboxState.SANDBOX_NOTREADY ? true : undefined;
        },
        { timeoutMs: 10_000, describe: describePods },
      );
      // Two relists later it is still done: the sidecar is not started again.
      const relistsSoFar = await relists();
      await waitFor('two more relists', async () => ((await relists()) >= relistsSoFar + 2 ? true : undefined), { timeoutMs: 30_000 });
      assert.equal(pod('job')?.status?.phase, 'Succeeded');
      assert.equal(initStatus('job', 'logger')?.restartCount, 0);
      assert.equal(eventsOf('job').filter((e) => e.reason === 'Started' && e.container === 'logger').length, 1);
      await removeAndCheckGone('job');
    });

    test('deletion stops the app container first, then the sidecars one by one, the last declared first', async () => {
      const { port } = hookServer!.address() as AddressInfo;
      await startPod('ordered', manifests.ordered(port));
      await waitFor('ordered Ready', () => (condition('ordered', 'Ready')?.status === 'True' ? true : undefined), {
        timeoutMs: 90_000,
        describe: describePods,
      });
      // The app takes a second or more to stop (its TERM trap sleeps): the sidecars wait for it.
      const uid = pod('ordered')!.metadata.uid!;
      let mainWhenSecondStops: ContainerState | undefined;
      atSecondStop = async () => {
        const { containers } = await runtimeObjectsOf(runtime!, uid);
        mainWhenSecondStops = containers.find((c) => c.metadata?.name === 'main')?.state;
      };
      await removeAndCheckGone('ordered');
      atSecondStop = undefined;
      const hooks = hookRequests.filter((r) => r.path.startsWith('/prestop/'));
      assert.deepEqual(
        hooks.map((r) => r.path),
        ['/prestop/main', '/prestop/second', '/prestop/first'],
      );
      assert.equal(mainWhenSecondStops, ContainerState.CONTAINER_EXITED, 'the app had stopped when the sidecars began to');
    });

    test('stopping leaves nothing on the host', async () => {
      await stopNodeStack({ node, provider, runtime });
      assert.deepEqual(await runtime!.hostLeftovers(), []);
    });
  });
}
