// A node that rebooted under a real `berth daemon`: the daemon, every monitor (conmon), every
// container process and the infra container are killed at once, and the pods' namespace files are
// gone (on a reboot, with the namespaces). The daemon that starts next finds its records: the pods
// are NOTREADY, the containers that ran are exited with 255 (no monitor saw their end), a container
// cannot start in such a pod (FAILED_PRECONDITION), and stop and remove leave nothing behind.
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { ContainerState, NamespaceMode, PodSandboxState } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import {
  allMountPoints,
  expectCriError,
  type PodEnv,
  type PodInit,
  pidAlive,
  pidsWithCmdline,
  run,
  setUpAndTearDown,
  startPodEnv,
  waitFor,
} from '../support/pod-fixtures.ts';

let env: PodEnv;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({ index: 155, subnetPrefix: '10.155.1.' });
  },
  async () => {
    if (env === undefined) return;
    const forced = await env.cleanUp();
    const unexpected = forced.filter((f) => !f.endsWith('/state/ns'));
    assert.deepEqual(unexpected, [], 'cleanup found nothing to remove by force');
  },
);

const rt = () => env.cri.runtime;

type LinuxInit = Extract<NonNullable<PodInit['linux']>, { $typeName?: undefined }>;

function podWithPid(name: string, pid: NamespaceMode): PodInit {
  const linux: LinuxInit = { securityContext: { namespaceOptions: { pid } } };
  return env.podConfig(name, { linux });
}

async function pidOf(containerId: string): Promise<{ pid: number; conmonPid: number }> {
  return JSON.parse((await rt().containerStatus({ containerId, verbose: true })).info.info ?? '{}') as { pid: number; conmonPid: number };
}

async function podPid(podSandboxId: string): Promise<number> {
  return (JSON.parse((await rt().podSandboxStatus({ podSandboxId, verbose: true })).info.info ?? '{}') as { pid: number }).pid;
}

/** SIGKILL to each pid; returns once none of them runs. */
async function killAll(pids: number[]): Promise<void> {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  await waitFor(`pids ${pids.join(' ')} to be gone`, () => pids.every((p) => !pidAlive(p)), 30_000);
}

describe('a simulated reboot', { timeout: 240_000 }, () => {
  afterEach(() => env.removeAllPods());

  test('pods come back NOTREADY, containers exited with 255, nothing starts in them, stop and remove are clean', async () => {
    const sharedConfig = podWithPid('shared', NamespaceMode.POD);
    const ownConfig = podWithPid('own', NamespaceMode.CONTAINER);
    const shared = await env.runPod(sharedConfig);
    const own = await env.runPod(ownConfig);
    const inShared = await env.startContainer(shared, env.containerConfig('in-shared'), sharedConfig);
    const inOwn = await env.startContainer(own, env.containerConfig('in-own'), ownConfig);
    const created = await env.createContainer(own, env.containerConfig('created'), ownConfig);
    const ips = await env.ipAllocations();
    assert.equal(ips.length, 2, 'each pod has its IP');

    const infra = await podPid(shared);
    assert.ok(infra > 0 && pidAlive(infra), 'the shared-PID pod has an infra container');
    const processes = [await pidOf(inShared), await pidOf(inOwn)];
    const conmons = await pidsWithCmdline(env.daemon.state);
    assert.ok(conmons.length >= 3, 'a monitor for each container and for the infra container');

    // The reboot: everything dies at once, and the namespaces with it.
    await env.daemon.kill9();
    await killAll([...conmons, infra, ...processes.map((p) => p.pid)]);
    const nsRoot = path.join(env.daemon.state, 'ns');
    for (const pod of [shared, own]) {
      const dir = path.join(nsRoot, pod);
      for (const m of await allMountPoints()) if (m.startsWith(`${dir}/`)) assert.equal((await run('umount', [m])).code, 0, `umount ${m}`);
      assert.ok((await readdir(dir)).length > 0, 'the namespace files were there');
      await rm(dir, { recursive: true });
    }

    await env.daemon.restart();
    for (const pod of [shared, own]) {
      const s = (await rt().podSandboxStatus({ podSandboxId: pod })).status;
      assert.equal(s?.state, PodSandboxState.SANDBOX_NOTREADY, `pod ${pod.slice(0, 12)} is not ready`);
    }
    for (const c of [inShared, inOwn]) {
      const s = (await rt().containerStatus({ containerId: c })).status;
      assert.equal(s?.state, ContainerState.CONTAINER_EXITED, `container ${c.slice(0, 12)} exited`);
      assert.equal(s?.exitCode, 255, 'its end was seen by no monitor');
      assert.ok((s?.finishedAt ?? 0n) > 0n);
    }
    assert.equal((await rt().containerStatus({ containerId: created })).status?.state, ContainerState.CONTAINER_CREATED);
    const listed = (await rt().listPodSandbox({ filter: { state: { state: PodSandboxState.SANDBOX_READY } } })).items;
    assert.deepEqual(listed, [], 'no pod is listed as ready');

    // A container that was only created cannot start in a pod that is not ready, and stays created.
    await expectCriError(rt().startContainer({ containerId: created }), 'FAILED_PRECONDITION', /not ready/);
    assert.equal((await rt().containerStatus({ containerId: created })).status?.state, ContainerState.CONTAINER_CREATED);
    // Nor can a new one be created there.
    await expectCriError(
      rt().createContainer({ podSandboxId: own, config: env.containerConfig('late'), sandboxConfig: ownConfig }),
      'FAILED_PRECONDITION',
      /not ready/,
    );

    for (const pod of [shared, own]) {
      await rt().stopPodSandbox({ podSandboxId: pod });
      await rt().stopPodSandbox({ podSandboxId: pod }); // idempotent, as the kubelet retries it
      await rt().removePodSandbox({ podSandboxId: pod });
    }
    assert.deepEqual(await env.ipAllocations(), [], 'CNI DEL gave the IPs back');
    assert.deepEqual(await env.leftovers({ pods: [shared, own], containers: [inShared, inOwn, created] }), []);
    assert.deepEqual(await pidsWithCmdline(env.daemon.state), [], 'no monitor is left');

    // The node works again: a new pod with the same name runs.
    const again = await env.runPod(sharedConfig);
    const c = await env.startContainer(again, env.containerConfig('in-shared'), sharedConfig);
    assert.equal((await rt().containerStatus({ containerId: c })).status?.state, ContainerState.CONTAINER_RUNNING);
    await rt().stopPodSandbox({ podSandboxId: again });
    await rt().removePodSandbox({ podSandboxId: again });
    assert.deepEqual(await env.leftovers({ pods: [again], containers: [c] }), []);
  });

  test('StartContainer in a pod stopped through CRI is refused with FAILED_PRECONDITION', async () => {
    const config = podWithPid('stopped', NamespaceMode.CONTAINER);
    const pod = await env.runPod(config);
    const created = await env.createContainer(pod, env.containerConfig('never'), config);
    await rt().stopPodSandbox({ podSandboxId: pod });
    assert.equal((await rt().podSandboxStatus({ podSandboxId: pod })).status?.state, PodSandboxState.SANDBOX_NOTREADY);
    await expectCriError(rt().startContainer({ containerId: created }), 'FAILED_PRECONDITION', /not ready/);
    const s = (await rt().containerStatus({ containerId: created })).status;
    assert.equal(s?.state, ContainerState.CONTAINER_CREATED, 'the refused container stays created');
    assert.deepEqual(await pidsWithCmdline(created), [], 'no process was started for it');
    await rt().removePodSandbox({ podSandboxId: pod });
    assert.deepEqual(await env.leftovers({ pods: [pod], containers: [created] }), []);
  });
});
