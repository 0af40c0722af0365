// Container lifecycle hooks and gRPC probes, run by berth node with the cri provider against a real
// CRI runtime (node-hooks-berth.test.ts, node-hooks-containerd.test.ts): postStart before the
// container counts as started, a failing postStart, preStop on deletion within the grace period,
// a preStop sleep cut short by a shorter grace period, and a gRPC readiness probe against a
// health server this test runs on the host (reached from host-network pods: pod IP = node IP).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pod } from '../../../src/agent/k8s-types.ts';
import type { RunningNode } from '../../../src/agent/node.ts';
import type { PodProvider } from '../../../src/agent/provider.ts';
import { type GrpcHealthServer, startGrpcHealthServer } from '../../support/grpc-health-server.ts';
import type { TestRegistry } from '../../support/registry.ts';
import { nodeGet } from './node-api.ts';
import {
  assertNoLeftovers,
  makeNodeDirs,
  podsReport,
  recordingEvents,
  removeDir,
  runtimeLogTail,
  runtimeObjectsOf,
  startCriNode,
  startRuntimeWithRegistry,
  stopNodeStack,
} from './node-harness.ts';
import type { RuntimeUnderTest, StartRuntime } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const NODE_NAME = 'node1';

/** Provider calls that ended (a deletion or a kill, preStop included), in the order they ended. */
interface EndedCall {
  method: 'deletePod' | 'killContainer';
  pod: string;
}

function recordingProvider(provider: PodProvider, calls: EndedCall[]): PodProvider {
  return new Proxy(provider, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (prop !== 'deletePod' && prop !== 'killContainer') return value.bind(target);
      return async (...args: unknown[]) => {
        try {
          return await value.apply(target, args);
        } finally {
          calls.push({ method: prop, pod: (args[0] as Pod).metadata.name ?? '' });
        }
      };
    },
  });
}

const manifests = {
  /** The main process waits for the file its postStart hook writes, then logs what it read; the hook's last act is to tell the test server. */
  postStart: (port: number) => `
apiVersion: v1
kind: Pod
metadata: {name: poststart}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, 'trap "exit 0" TERM; while [ ! -f /tmp/hook ]; do sleep 0.1; done; echo "main saw: \`cat /tmp/hook\`"; while :; do sleep 1; done']
      lifecycle:
        postStart:
          exec: {command: [sh, -c, "sleep 1; echo from-post-start > /tmp/hook; wget -q -O /dev/null http://127.0.0.1:${port}/poststart/done"]}
`,
  badStart: `
apiVersion: v1
kind: Pod
metadata: {name: badstart}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, 'trap "exit 0" TERM; while :; do sleep 1; done']
      lifecycle:
        postStart:
          exec: {command: [sh, -c, "echo hook-output; exit 7"]}
`,
  /**
   * Logs SIGTERM and runs on; its preStop tells the test's HTTP server that it started, then would
   * take 120 s, far beyond the 6 s grace period, before it told the server that it ended.
   */
  preStop: (port: number) => `
apiVersion: v1
kind: Pod
metadata: {name: prestop}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 6
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, 'trap "echo got TERM" TERM; while :; do sleep 1; done']
      lifecycle:
        preStop:
          exec: {command: [sh, -c, "wget -q -O /dev/null http://127.0.0.1:${port}/prestop/start; sleep 120; wget -q -O /dev/null http://127.0.0.1:${port}/prestop/end"]}
`,
  /**
   * Its liveness probe fails at once; the probe's 2 s grace period cuts the 240 s preStop sleep short
   * (the pod's own grace period is 300 s). The restarted container finds the mark its first run left
   * in the emptyDir and completes, so that the deletion has no preStop to run.
   */
  sleepy: `
apiVersion: v1
kind: Pod
metadata: {name: sleepy}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 300
  volumes: [{name: data, emptyDir: {}}]
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, 'if [ -f /data/ran ]; then exit 0; fi; touch /data/ran; trap "" TERM; while :; do sleep 1; done']
      volumeMounts: [{name: data, mountPath: /data}]
      livenessProbe:
        exec: {command: [test, -f, /tmp/alive]}
        initialDelaySeconds: 1
        periodSeconds: 1
        failureThreshold: 1
        terminationGracePeriodSeconds: 2
      lifecycle:
        preStop: {sleep: {seconds: 240}}
`,
  grpcReady: (port: number) => `
apiVersion: v1
kind: Pod
metadata: {name: grpcready}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: busybox:1.36
      command: [sleep, "3600"]
      readinessProbe:
        grpc: {port: ${port}, service: berth-test}
        periodSeconds: 1
`,
};

/** The hook and gRPC probe scenarios against the runtime `start` brings up on `subnet`. */
export function hookScenarios(runtimeTitle: string, start: StartRuntime, subnet: string): void {
  describe(`berth node lifecycle hooks and gRPC probes, cri provider, ${runtimeTitle}`, { timeout: 300_000 }, () => {
    let dir: string;
    let manifestDir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let provider: PodProvider | undefined;
    let node: RunningNode | undefined;
    let hookServer: Server | undefined;
    let health: GrpcHealthServer | undefined;
    const hookRequests: { path: string }[] = [];
    const { events, recorder } = recordingEvents();
    const calls: EndedCall[] = [];

    const pod = (name: string): Pod | undefined => node?.pod('default', `${name}-${NODE_NAME}`);
    const eventsOf = (name: string) => events.filter((e) => e.pod === `${name}-${NODE_NAME}`);
    const describePods = () =>
      `${podsReport(node)}\nevents: ${JSON.stringify(events.slice(-30))}\n${runtimeLogTail(runtimeTitle, runtime, 3000)}`;

    async function startPod(name: string, manifest: string): Promise<void> {
      await writeFile(path.join(manifestDir, `${name}.yaml`), manifest);
    }

    /** Removes the manifest, waits until the runtime holds nothing of the pod, checks the host; returns the deletion's provider call. */
    function podLogDir(name: string): string {
      return path.join(dir, 'pod-logs', `default_${name}-${NODE_NAME}_${pod(name)!.metadata.uid!}`);
    }

    /** Everything the pod's containers logged so far (their CRI log files, concatenated). */
    async function podLogText(logDir: string): Promise<string> {
      const files = (await readdir(logDir, { recursive: true }).catch(() => [] as string[])).filter((f) => f.endsWith('.log'));
      return (await Promise.all(files.map((f) => readFile(path.join(logDir, f), 'utf8').catch(() => '')))).join('');
    }

    async function removeAndCheckGone(name: string): Promise<EndedCall> {
      const uid = pod(name)!.metadata.uid!;
      const known = await runtimeObjectsOf(runtime!, uid);
      await unlink(path.join(manifestDir, `${name}.yaml`));
      const deletion = await waitFor(
        `${name} deleted by the provider`,
        () => calls.find((c) => c.method === 'deletePod' && c.pod === `${name}-${NODE_NAME}`),
        { timeoutMs: 60_000, describe: describePods },
      );
      const left = await runtimeObjectsOf(runtime!, uid);
      assert.deepEqual([left.sandboxes.length, left.containers.length], [0, 0], `${name}: nothing left in the runtime`);
      await assertNoLeftovers(runtime!, runtimeTitle, name, known);
      assert.equal(existsSync(path.join(dir, 'pod-logs', `default_${name}-${NODE_NAME}_${uid}`)), false);
      return deletion;
    }

    before(async () => {
      ({ dir, manifestDir } = await makeNodeDirs('berth-hooks-test-'));
      hookServer = createServer((req, res) => {
        hookRequests.push({ path: req.url ?? '' });
        res.end('ok');
      });
      await new Promise<void>((r) => hookServer!.listen(0, '127.0.0.1', r));
      health = await startGrpcHealthServer('127.0.0.1', { 'berth-test': 'NOT_SERVING' });
      ({ registry, runtime } = await startRuntimeWithRegistry(start, { subnet }));
      ({ provider, node } = await startCriNode({
        nodeName: NODE_NAME,
        runtime,
        dir,
        manifestDir,
        events: recorder,
        nodeEvents: recorder,
        wrapProvider: (cri) => recordingProvider(cri, calls),
        nodeApi: true,
      }));
    });

    after(async () => {
      await stopNodeStack({ node, provider, runtime, registry });
      await health?.close();
      hookServer?.closeAllConnections();
      await new Promise((r) => (hookServer ? hookServer.close(r) : r(undefined)));
      await removeDir(dir);
    });

    test('postStart: its effect is visible to the container, which is reported started only once the hook is done', async () => {
      const { port } = hookServer!.address() as AddressInfo;
      await startPod('poststart', manifests.postStart(port));
      const hookDone = () => hookRequests.some((r) => r.path === '/poststart/done');
      let runningBeforeTheHookEnded = false;
      const ready = await waitFor(
        'poststart Ready',
        () => {
          const status = pod('poststart')?.status?.containerStatuses?.[0];
          if (status?.state.running !== undefined && !hookDone()) runningBeforeTheHookEnded = true;
          return status?.ready ? status : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 50, describe: describePods },
      );
      assert.equal(ready.started, true);
      assert.equal(ready.restartCount, 0);
      const started = eventsOf('poststart').find((e) => e.reason === 'Started');
      assert.ok(started !== undefined, 'a Started event');
      // The hook sleeps 1 s, writes the file and tells the test server: only then is the container reported running.
      assert.equal(runningBeforeTheHookEnded, false, 'not reported running while its postStart hook ran');
      assert.ok(hookDone());
      const logs = await waitFor('the main process logged what the hook wrote', async () => {
        const res = await nodeGet(node!, `/containerLogs/default/poststart-${NODE_NAME}/main`);
        const text = await res.text();
        return text.includes('main saw:') ? text : undefined;
      });
      assert.equal(logs, 'main saw: from-post-start\n');
      assert.deepEqual(
        eventsOf('poststart').filter((e) => e.type === 'Warning'),
        [],
      );
      await removeAndCheckGone('poststart');
    });

    test('postStart failure: FailedPostStartHook, the container is killed and restarted', async () => {
      await startPod('badstart', manifests.badStart);
      const waiting = await waitFor(
        'badstart waiting with PostStartHookError',
        () => {
          const status = pod('badstart')?.status?.containerStatuses?.[0];
          return status?.state.waiting?.reason === 'PostStartHookError' ? status : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 50, describe: describePods },
      );
      assert.match(
        waiting.state.waiting!.message!,
        /^Exec lifecycle hook \(\[sh -c echo hook-output; exit 7\]\) for Container "main" in Pod "badstart-node1_default\([0-9a-f-]+\)" failed - error: command 'sh -c echo hook-output; exit 7' exited with 7: , message: "hook-output\\n"$/,
      );
      assert.equal(waiting.ready, false);
      const restarted = await waitFor(
        'badstart restarted after its failed postStart',
        () => {
          const status = pod('badstart')?.status?.containerStatuses?.[0];
          return status !== undefined && status.restartCount >= 1 && status.lastState.terminated !== undefined ? status : undefined;
        },
        { timeoutMs: 60_000, describe: describePods },
      );
      assert.equal(restarted.ready, false);
      // The restart fails the same way; the second failure brings the crash back-off.
      await waitFor(
        'badstart in CrashLoopBackOff',
        () => (pod('badstart')?.status?.containerStatuses?.[0]?.state.waiting?.reason === 'CrashLoopBackOff' ? true : undefined),
        { timeoutMs: 60_000, describe: describePods },
      );
      const reasons = eventsOf('badstart').map((e) => `${e.type} ${e.reason}: ${e.message}`);
      const failed = reasons.indexOf('Warning FailedPostStartHook: PostStartHook failed');
      assert.ok(failed > reasons.indexOf('Normal Started: Started container main'), `events: ${JSON.stringify(reasons)}`);
      assert.equal(reasons[failed + 1], 'Normal Killing: FailedPostStartHook');
      assert.ok(
        reasons.filter((r) => r === 'Warning FailedPostStartHook: PostStartHook failed').length >= 2,
        'the restart runs the hook again',
      );
      await removeAndCheckGone('badstart');
    });

    test('preStop: runs on deletion, and its time comes out of the grace period', async () => {
      const { port } = hookServer!.address() as AddressInfo;
      await startPod('prestop', manifests.preStop(port));
      await waitFor('prestop running', () => (pod('prestop')?.status?.containerStatuses?.[0]?.ready ? true : undefined), {
        timeoutMs: 90_000,
        describe: describePods,
      });
      // In this order: the hook starts (SIGTERM not yet sent), the grace period ends it long before
      // its 120 s are up, SIGTERM reaches the container, then SIGKILL ends it (it ignores SIGTERM).
      // The deletion's deadline (60 s) is far above the 6 + 2 s and far below the hook's 120 s.
      const logDir = podLogDir('prestop');
      const gone = removeAndCheckGone('prestop');
      gone.catch(() => {}); // awaited below
      await waitFor('the preStop hook to start', () => (hookRequests.some((r) => r.path === '/prestop/start') ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 20,
      });
      assert.equal((await podLogText(logDir)).includes('got TERM'), false, 'the hook runs before SIGTERM');
      await waitFor('SIGTERM after the hook', async () => ((await podLogText(logDir)).includes('got TERM') ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 50,
      });
      await gone;
      assert.deepEqual(
        hookRequests.filter((r) => r.path.startsWith('/prestop/')).map((r) => r.path),
        ['/prestop/start'],
        'the hook was cut short at the end of the grace period (its process went with the container)',
      );
      assert.deepEqual(
        eventsOf('prestop').filter((e) => e.reason === 'FailedPreStopHook'),
        [],
      );
    });

    test('preStop: a sleep longer than the grace period is cut short', async () => {
      await startPod('sleepy', manifests.sleepy);
      // The kill ends within the deadline (90 s: far above the probe's 2 s and the 2 s of the stop, far
      // below the 240 s of the sleep), so the sleep was cut short.
      await waitFor(
        'the failed liveness probe kills sleepy',
        () => calls.find((c) => c.method === 'killContainer' && c.pod === `sleepy-${NODE_NAME}`),
        { timeoutMs: 90_000, describe: describePods },
      );
      const killing = eventsOf('sleepy').find((e) => e.reason === 'Killing');
      assert.equal(killing?.message, 'Container main failed liveness probe, will be restarted');
      const completed = await waitFor(
        'the restarted container to complete',
        () => {
          const status = pod('sleepy')?.status?.containerStatuses?.[0];
          return status?.state.terminated?.exitCode === 0 ? status : undefined;
        },
        { timeoutMs: 90_000, describe: describePods },
      );
      assert.equal(completed.restartCount, 1);
      await removeAndCheckGone('sleepy');
    });

    test('gRPC readiness probe: Ready follows the health server', async () => {
      await startPod('grpcready', manifests.grpcReady(health!.port));
      const readyCondition = () => pod('grpcready')?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
      await waitFor(
        'grpcready running, not ready',
        () =>
          pod('grpcready')?.status?.containerStatuses?.[0]?.state.running !== undefined && (health!.calls.get('berth-test') ?? 0) >= 2
            ? true
            : undefined,
        { timeoutMs: 90_000, describe: describePods },
      );
      assert.equal(readyCondition(), 'False');
      const unhealthy = eventsOf('grpcready').find((e) => e.reason === 'Unhealthy');
      assert.equal(unhealthy?.message, 'Readiness probe failed: service unhealthy (responded with "NOT_SERVING")');
      health!.set('berth-test', 'SERVING');
      await waitFor('grpcready Ready', () => (readyCondition() === 'True' ? true : undefined), {
        timeoutMs: 30_000,
        describe: describePods,
      });
      health!.set('berth-test', 'NOT_SERVING');
      await waitFor('grpcready not Ready again', () => (readyCondition() === 'False' ? true : undefined), {
        timeoutMs: 30_000,
        describe: describePods,
      });
      assert.equal(pod('grpcready')?.status?.containerStatuses?.[0]?.restartCount, 0, 'readiness never restarts');
      await removeAndCheckGone('grpcready');
    });

    test('stopping leaves nothing on the host', async () => {
      await stopNodeStack({ node, provider, runtime });
      assert.deepEqual(await runtime!.hostLeftovers(), []);
    });
  });
}
