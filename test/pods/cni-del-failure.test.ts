// CNI DEL failing during StopPodSandbox, with real plugins (bridge, portmap) and one last plugin that
// fails DEL while a flag file exists. DEL runs the chain in reverse, so the failing plugin comes
// first and stops it: the call fails with the plugin's message, the pod keeps its network on record
// (IP, veth, port-mapping rules, the CNI cache), and the kubelet's retry of StopPodSandbox (or a
// RemovePodSandbox) finishes the teardown once DEL works: nothing is left.
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { ContainerState, PodSandboxState } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { BerthError } from '../../src/errors/errors.ts';
import { installFlakyDelPlugin } from '../network/fake-plugin.ts';
import { bridgePorts, type PodEnv, pidsWithCmdline, setUpAndTearDown, startPodEnv, waitFor } from '../support/pod-fixtures.ts';

let env: PodEnv;
let flag: string;
let callLog: string;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({
      index: 156,
      subnetPrefix: '10.155.2.',
      extraBinDir: true,
      plugins: [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }, { type: 'flaky-del' }],
    });
    flag = path.join(env.daemon.dir, 'fail-del');
    callLog = path.join(env.daemon.dir, 'flaky-del.log');
    await installFlakyDelPlugin(env.net.binDir!, 'flaky-del', flag, callLog);
  },
  async () => {
    if (env === undefined) return;
    await rm(flag, { force: true });
    const forced = await env.cleanUp();
    const unexpected = forced.filter((f) => !f.endsWith('/state/ns'));
    assert.deepEqual(unexpected, [], 'cleanup found nothing to remove by force');
  },
);

const rt = () => env.cri.runtime;

async function stopFails(call: Promise<unknown>): Promise<BerthError> {
  const e = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(e instanceof BerthError, `the call fails while DEL does (${String(e)})`);
  assert.match(e.message, /DEL failed on purpose/, 'the error carries the plugin message');
  assert.notEqual(e.fields.grpcStatus, 'OK');
  return e;
}

/** What the pod holds of the network: its IP allocation, its veth, its port-mapping rules. */
async function networkOf(podId: string): Promise<string[]> {
  const left = await env.leftovers({ pods: [podId] });
  return left.filter((l) => l.startsWith('IP allocation') || l.startsWith('iptables') || l.startsWith('CNI cache'));
}

describe('CNI DEL failing at StopPodSandbox', { timeout: 180_000 }, () => {
  afterEach(async () => {
    await rm(flag, { force: true });
    await rm(callLog, { force: true });
    await env.removeAllPods();
  });

  test('the stop fails and keeps the network on record; the retry cleans everything up', async () => {
    const config = env.podConfig('del-fails', { portMappings: [{ containerPort: 80, hostPort: 30155, protocol: 0 }] });
    const pod = await env.runPod(config);
    const c = await env.startContainer(pod, env.containerConfig('main'), config);
    const veths = await bridgePorts(env.net.bridge);
    assert.equal(veths.length, 1, 'the pod has its veth');
    const held = await networkOf(pod);
    assert.ok(
      held.some((l) => l.startsWith('IP allocation')),
      `the pod holds an IP (${held.join(', ')})`,
    );
    assert.ok(
      held.some((l) => l.startsWith('iptables')),
      'and port-mapping rules',
    );

    await writeFile(flag, '');
    await stopFails(rt().stopPodSandbox({ podSandboxId: pod }));
    // The container is stopped all the same; the network is still there for the retry to remove.
    assert.equal((await rt().containerStatus({ containerId: c })).status?.state, ContainerState.CONTAINER_EXITED);
    assert.deepEqual(await networkOf(pod), held, 'the DEL that failed removed nothing');
    assert.deepEqual(await bridgePorts(env.net.bridge), veths);
    // Failing again is the same failure (the kubelet retries while it fails).
    await stopFails(rt().stopPodSandbox({ podSandboxId: pod }));

    await rm(flag);
    await rt().stopPodSandbox({ podSandboxId: pod });
    assert.equal((await rt().podSandboxStatus({ podSandboxId: pod })).status?.state, PodSandboxState.SANDBOX_NOTREADY);
    assert.deepEqual(await networkOf(pod), [], 'the retry released the IP, the rules and the cache record');
    await waitFor('the veth to go with the namespace', async () => (await bridgePorts(env.net.bridge)).length === 0, 20_000);
    await rt().removePodSandbox({ podSandboxId: pod });
    assert.deepEqual(await env.leftovers({ pods: [pod], containers: [c] }), []);
    assert.deepEqual(await pidsWithCmdline(env.daemon.state), []);
    const calls = (await readFile(callLog, 'utf8')).trim().split('\n');
    assert.deepEqual(calls.slice(-3), ['DEL', 'DEL', 'DEL'], 'two DELs failed, the third went through the chain');
  });

  test('RemovePodSandbox of a running pod while DEL fails: refused, and done by the next RemovePodSandbox', async () => {
    const config = env.podConfig('remove-fails');
    const pod = await env.runPod(config);
    const c = await env.startContainer(pod, env.containerConfig('main'), config);
    await writeFile(flag, '');
    await stopFails(rt().removePodSandbox({ podSandboxId: pod }));
    const listed = (await rt().listPodSandbox({})).items.map((p) => p.id);
    assert.ok(listed.includes(pod), 'the pod stays listed until its network is gone');
    assert.ok((await networkOf(pod)).some((l) => l.startsWith('IP allocation')));

    await rm(flag);
    await rt().removePodSandbox({ podSandboxId: pod });
    assert.ok(!(await rt().listPodSandbox({})).items.some((p) => p.id === pod));
    assert.deepEqual(await env.leftovers({ pods: [pod], containers: [c] }), []);
  });
});
