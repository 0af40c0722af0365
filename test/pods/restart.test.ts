// Restarts of a real `berth daemon` with pods and containers in every state: after `kill -9` (and
// after SIGTERM) every pod and container is listed again with the same IDs, states, IPs, times and
// exit codes; running containers keep running (their conmon outlived the daemon); what exited
// while the daemon was down is reported with its real exit code; a container whose conmon was
// killed is reported exited (255).
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { ContainerState, NamespaceMode, PodSandboxState } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import {
  execOk,
  type PodEnv,
  type PodInit,
  pidAlive,
  readLog,
  setUpAndTearDown,
  startPodEnv,
  waitFor,
  waitForLog,
} from '../support/pod-fixtures.ts';

let env: PodEnv;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({ index: 3 });
  },
  async () => {
    if (env === undefined) return;
    const forced = await env.cleanUp();
    const unexpected = forced.filter((f) => !f.endsWith('/state/ns'));
    assert.deepEqual(unexpected, [], 'cleanup found nothing to remove by force');
  },
);

const rt = () => env.cri.runtime;

interface Verbose {
  pid: number;
  conmonPid: number;
}

async function verbose(containerId: string): Promise<Verbose> {
  return JSON.parse((await rt().containerStatus({ containerId, verbose: true })).info.info ?? '{}') as Verbose;
}

async function containerStatus(containerId: string) {
  const s = (await rt().containerStatus({ containerId })).status;
  assert.ok(s, `status of ${containerId}`);
  return s;
}

async function waitExited(containerId: string, timeoutMs = 15_000) {
  return waitFor(
    `container ${containerId.slice(0, 12)} to exit`,
    async () => {
      const s = await containerStatus(containerId);
      return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
    },
    timeoutMs,
  );
}

/** What a kubelet sees of every pod and container: must be the same before and after a restart. */
async function everything() {
  const pods = [];
  for (const p of (await rt().listPodSandbox({})).items.sort((a, b) => a.id.localeCompare(b.id))) {
    const s = (await rt().podSandboxStatus({ podSandboxId: p.id })).status;
    pods.push({
      id: p.id,
      name: p.metadata?.name,
      attempt: p.metadata?.attempt,
      state: s?.state,
      createdAt: s?.createdAt,
      ip: s?.network?.ip,
      labels: s?.labels,
      runtimeHandler: s?.runtimeHandler,
    });
  }
  const containers = [];
  for (const c of (await rt().listContainers({})).containers.sort((a, b) => a.id.localeCompare(b.id))) {
    const s = await containerStatus(c.id);
    containers.push({
      id: c.id,
      podSandboxId: c.podSandboxId,
      name: s.metadata?.name,
      state: s.state,
      createdAt: s.createdAt,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      exitCode: s.exitCode,
      reason: s.reason,
      imageRef: s.imageRef,
      logPath: s.logPath,
      labels: s.labels,
    });
  }
  return { pods, containers };
}

/** Lets a container that waits for /tmp/go (in its rootfs, seen from the host) go on. */
async function go(containerId: string): Promise<void> {
  await writeFile(path.join(env.daemon.state, 'containers', containerId, 'rootfs', 'tmp', 'go'), '');
}

type LinuxInit = Extract<NonNullable<PodInit['linux']>, { $typeName?: undefined }>;

function podWithPid(name: string, pid: NamespaceMode): PodInit {
  const linux: LinuxInit = { securityContext: { namespaceOptions: { pid } } };
  return env.podConfig(name, { linux });
}

describe('daemon restarts', { timeout: 180_000 }, () => {
  // Whatever a failed test left goes, so that it does not fail the next ones.
  afterEach(() => env.removeAllPods());

  test('kill -9 of the daemon: everything is found again, running containers never stopped', async () => {
    const sharedConfig = podWithPid('shared', NamespaceMode.POD);
    const ownConfig = podWithPid('own', NamespaceMode.CONTAINER);
    const shared = await env.runPod(sharedConfig);
    const own = await env.runPod(ownConfig);
    const stoppedPod = await env.runPod(podWithPid('stopped', NamespaceMode.CONTAINER));
    await rt().stopPodSandbox({ podSandboxId: stoppedPod });

    const ticker = 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done';
    const running = await env.startContainer(own, env.containerConfig('running', ticker), ownConfig);
    const runningShared = await env.startContainer(shared, env.containerConfig('running-shared'), sharedConfig);
    const exited = await env.startContainer(own, env.containerConfig('exited', 'exit 3'), ownConfig);
    const created = await env.createContainer(own, env.containerConfig('created'), ownConfig);
    // Exits while the daemon is down, with its own code; then one that exits after the daemon is
    // back (the new daemon must watch it). Each exits when the test creates /tmp/go in its rootfs.
    const waitForGo = (code: number) => `while [ ! -e /tmp/go ]; do sleep 0.05; done; exit ${code}`;
    const exitsWhileDown = await env.startContainer(own, env.containerConfig('exits-while-down', waitForGo(7)), ownConfig);
    const exitsLater = await env.startContainer(own, env.containerConfig('exits-later', waitForGo(5)), ownConfig);
    await waitExited(exited);
    await waitForLog((await containerStatus(running)).logPath, 'tick 2');

    const before = await everything();
    assert.equal(before.pods.length, 3);
    assert.equal(before.containers.length, 6);
    const runningInfo = await verbose(running);
    const sharedInfo = await verbose(runningShared);
    const downInfo = await verbose(exitsWhileDown);
    const podVerbose = JSON.parse((await rt().podSandboxStatus({ podSandboxId: shared, verbose: true })).info.info ?? '{}') as {
      pid: number;
    };

    const killedAt = Date.now();
    await env.daemon.kill9();
    assert.ok(pidAlive(runningInfo.pid), 'the container runs on without the daemon');
    assert.ok(pidAlive(runningInfo.conmonPid), 'its conmon outlived the daemon');
    assert.ok(pidAlive(podVerbose.pid), 'the infra container runs on');
    await go(exitsWhileDown);
    await waitFor('the container to exit while the daemon is down', () => !pidAlive(downInfo.pid), 10_000);
    const logPath = before.containers.find((x) => x.id === running)?.logPath ?? '';
    const logLines = (await readLog(logPath)).length;
    await waitFor('conmon to log while the daemon is down', async () => (await readLog(logPath)).length > logLines, 5000);

    await env.daemon.restart();
    const after = await everything();
    const expected = structuredClone(before);
    const down = expected.containers.find((c) => c.id === exitsWhileDown)!;
    const seen = after.containers.find((c) => c.id === exitsWhileDown)!;
    Object.assign(down, { state: ContainerState.CONTAINER_EXITED, exitCode: 7, reason: 'Error', finishedAt: seen.finishedAt });
    assert.deepEqual(after, expected, 'the same pods and containers, in the same states, after the restart');
    assert.ok(seen.finishedAt >= BigInt(killedAt) * 1_000_000n, 'the exit time is when it exited, while the daemon was down');
    assert.ok(seen.finishedAt <= BigInt(Date.now()) * 1_000_000n);

    // The running ones still run, with the same pids, and answer.
    assert.deepEqual(await verbose(running), runningInfo);
    assert.ok(pidAlive(runningInfo.pid));
    assert.equal((await execOk(env, running, 'echo still here')).trim(), 'still here');
    assert.equal((await execOk(env, runningShared, 'ps -o pid,args')).match(/^\s*1\s+\/bin\/sleep 2147483647$/m)?.length, 1);
    assert.deepEqual((await verbose(runningShared)).pid, sharedInfo.pid);
    const ip = after.pods.find((p) => p.id === own)?.ip ?? '';
    assert.ok(ip.startsWith(env.net.prefix));
    await execOk(env, running, `ping -c 1 -W 2 ${env.net.prefix}1`);

    // The new daemon watches what runs: an exit after the restart is recorded.
    await go(exitsLater);
    const later = await waitExited(exitsLater, 15_000);
    assert.equal(later.exitCode, 5);
    assert.equal(later.reason, 'Error');
    // What was created can start; what runs can be stopped.
    await rt().startContainer({ containerId: created });
    assert.equal((await containerStatus(created)).state, ContainerState.CONTAINER_RUNNING);
    await rt().stopContainer({ containerId: running, timeout: 0n });
    const stopped = await containerStatus(running);
    assert.equal(stopped.state, ContainerState.CONTAINER_EXITED);
    assert.equal(stopped.exitCode, 137, 'killed');
    // conmon exits just after it recorded the exit that StopContainer waited for.
    await waitFor('the container and its conmon to be gone', () => !pidAlive(runningInfo.pid) && !pidAlive(runningInfo.conmonPid), 5000);
    // The stopped pod stays stopped; everything can be removed.
    assert.equal((await rt().podSandboxStatus({ podSandboxId: stoppedPod })).status?.state, PodSandboxState.SANDBOX_NOTREADY);
    for (const id of [shared, own, stoppedPod]) {
      await rt().stopPodSandbox({ podSandboxId: id });
      await rt().removePodSandbox({ podSandboxId: id });
    }
    assert.deepEqual(await env.leftovers({ pods: env.podIds, containers: env.containerIds }), []);
  });

  test('kill -9 of a conmon: its container is reported exited (255) and is not left running', async () => {
    const config = podWithPid('conmon', NamespaceMode.CONTAINER);
    const podId = await env.runPod(config);
    const c = await env.startContainer(podId, env.containerConfig('victim'), config);
    const info = await verbose(c);
    assert.ok(pidAlive(info.conmonPid));
    process.kill(info.conmonPid, 'SIGKILL');
    const s = await waitExited(c);
    assert.equal(s.exitCode, 255);
    assert.match(s.message, /monitor/);
    await waitFor('the container process to be gone', () => !pidAlive(info.pid), 5000);

    // And while the daemon is down: found exited at the next start.
    const d = await env.startContainer(podId, env.containerConfig('victim-2'), config);
    const info2 = await verbose(d);
    await env.daemon.kill9();
    process.kill(info2.conmonPid, 'SIGKILL');
    await waitFor('conmon to be gone', () => !pidAlive(info2.conmonPid), 5000);
    await env.daemon.restart();
    const s2 = await waitExited(d, 5000);
    assert.equal(s2.exitCode, 255);
    await waitFor('the orphaned container process to be gone', () => !pidAlive(info2.pid), 5000);
    // The pod itself is fine: a new container runs in it.
    const e = await env.startContainer(podId, env.containerConfig('after'), config);
    assert.equal((await execOk(env, e, 'echo ok')).trim(), 'ok');
    await rt().stopPodSandbox({ podSandboxId: podId });
    await rt().removePodSandbox({ podSandboxId: podId });
    assert.deepEqual(await env.leftovers({ pods: [podId], containers: [c, d, e] }), []);
  });

  test('SIGTERM restart: the daemon stops alone, containers keep running, the state is the same', async () => {
    const config = podWithPid('term', NamespaceMode.POD);
    const podId = await env.runPod(config);
    const c = await env.startContainer(podId, env.containerConfig('main'), config);
    const ended = await env.startContainer(podId, env.containerConfig('ended', 'exit 0'), config);
    await waitExited(ended);
    const before = await everything();
    const info = await verbose(c);
    // SIGKILL after 60 s, far above any load: a daemon that did not end by itself shows in `exit`.
    const exit = await env.daemon.terminate('SIGTERM', 60_000);
    assert.ok(pidAlive(info.pid) && pidAlive(info.conmonPid), 'the container runs on without the daemon');
    await env.daemon.restart();
    assert.deepEqual(await everything(), before);
    assert.deepEqual(await verbose(c), info);
    assert.equal((await execOk(env, c, 'echo ok')).trim(), 'ok');
    const endedStatus = await containerStatus(ended);
    assert.equal(endedStatus.reason, 'Completed');
    await rt().stopPodSandbox({ podSandboxId: podId });
    await rt().removePodSandbox({ podSandboxId: podId });
    assert.deepEqual(await env.leftovers({ pods: [podId], containers: [c, ended] }), []);
    assert.deepEqual(exit, { code: 0, signal: null }, 'the daemon ends by itself on SIGTERM, exit 0');
  });
});
