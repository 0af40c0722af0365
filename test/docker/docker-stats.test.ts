// Container and pod stats of Docker containers from cgroups, the writable layer and /proc/net/dev,
// against a real Docker Engine: the figures grow as the container allocates memory, burns CPU,
// writes a file and sends packets; a stopped container has no cgroup figures.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type Docker from 'dockerode';
import { dockerContainerCgroupStats, dockerPodStats, dockerSandboxNetworkStats, parseNetDev } from '../../src/docker/docker-stats.ts';
import { type CgroupLayout, detectCgroupLayout } from '../../src/runtime/cgroups/cgroup-layout.ts';
import { waitFor } from '../support/pod-fixtures.ts';
import { type DockerTestEnv, startDockerTestEnv } from './docker-fixtures.ts';

let env: DockerTestEnv;
let layout: CgroupLayout;

before(async () => {
  layout = await detectCgroupLayout();
  env = await startDockerTestEnv();
});

after(async () => {
  await env?.cleanUp();
});

async function exec(c: Docker.Container, cmd: string[]): Promise<void> {
  const e = await c.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = await e.start({});
  await new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.resume();
  });
  const { ExitCode } = await e.inspect();
  assert.equal(ExitCode, 0, `${cmd.join(' ')} failed`);
}

const MB = 1024 * 1024;
/** Waits for /tmp/go, then writes 4 MB into its layer, 40 MB into /dev/shm (memory), and spins. */
const WORKER =
  'while [ ! -e /tmp/go ]; do sleep 0.05; done; head -c 4000000 /dev/zero > /big; head -c 40000000 /dev/zero > /dev/shm/fill; echo filled; while :; do :; done';

test('a pod: memory, CPU, writable layer and processes grow; its network counts loopback traffic; stopped, no cgroup figures', async () => {
  const podParent = `${env.engine.cgroupParent}/pod-stats`;
  const sandbox = await env.createSandbox('k8s_POD_stats_default_uid4_0', { CgroupParent: podParent });
  await sandbox.start();
  const c = await env.createContainer(sandbox.id, 'k8s_work_stats_default_uid4_0', ['sh', '-c', WORKER], {
    HostConfig: { CgroupParent: podParent, NetworkMode: `container:${sandbox.id}` },
  });
  await c.start();
  try {
    const before = await dockerContainerCgroupStats(layout, await c.inspect());
    assert.ok(before.cgroup && before.writable, `a running container has figures: ${JSON.stringify(before)}`);
    assert.ok(before.cgroupPath?.endsWith(c.id));
    const podBefore = await dockerPodStats(layout, await sandbox.inspect());
    assert.equal(podBefore.cgroupPath, podParent);
    assert.ok(podBefore.cgroup!.pids!.current >= 2, 'the sandbox and the worker');

    await exec(c, ['touch', '/tmp/go']);
    await waitFor('the worker to fill memory', async () => (await c.logs({ stdout: true })).toString().includes('filled'));
    const cpuFrom = before.cgroup.cpu.usageNs;
    const now = await waitFor('CPU time to grow by 300 ms', async () => {
      const s = await dockerContainerCgroupStats(layout, await c.inspect());
      return s.cgroup!.cpu.usageNs > cpuFrom + 300e6 && s;
    });
    const m0 = before.cgroup.memory;
    const m1 = now.cgroup!.memory;
    assert.ok(m1.usageBytes >= m0.usageBytes + 40 * MB, `usage ${m0.usageBytes} → ${m1.usageBytes}`);
    assert.ok(m1.workingSetBytes >= m0.workingSetBytes + 35 * MB, `working set ${m0.workingSetBytes} → ${m1.workingSetBytes}`);
    assert.ok(m1.workingSetBytes <= m1.usageBytes);
    assert.ok(m1.pageFaults > m0.pageFaults);
    assert.ok(m1.rssBytes >= 0);
    assert.ok(now.writable!.bytes >= before.writable.bytes + 3.8 * MB, `writable ${before.writable.bytes} → ${now.writable!.bytes}`);
    assert.ok(now.writable!.inodes > before.writable.inodes);
    assert.equal(now.writable!.truncated, false);

    const pod = await dockerPodStats(layout, await sandbox.inspect());
    assert.ok(pod.cgroup!.memory.usageBytes >= m1.usageBytes, 'the pod holds the container');
    assert.ok(pod.cgroup!.cpu.usageNs >= now.cgroup!.cpu.usageNs);
    assert.ok(pod.cgroup!.pids!.current >= 2);

    // Network mode none: only lo, which counts the pings.
    const net0 = await dockerSandboxNetworkStats((await sandbox.inspect()).State.Pid);
    assert.deepEqual([net0?.interfaces, net0?.defaultInterface], [[], undefined]);
    await exec(c, ['ping', '-c', '2', '-W', '1', '127.0.0.1']);
    const net1 = (await dockerPodStats(layout, await sandbox.inspect())).network!;
    assert.ok(net1.loopback!.rxBytes >= net0!.loopback!.rxBytes + 2 * 84, `lo rx ${net0!.loopback!.rxBytes} → ${net1.loopback!.rxBytes}`);
    assert.ok(net1.loopback!.txBytes >= net0!.loopback!.txBytes + 2 * 84);
    assert.equal(net1.loopback!.rxErrors, 0);

    await c.kill();
    await c.wait();
    const stopped = await dockerContainerCgroupStats(layout, await c.inspect());
    assert.equal(stopped.cgroup, undefined);
    assert.equal(stopped.cgroupPath, undefined);
    assert.ok(stopped.writable!.bytes >= 3.8 * MB, 'the writable layer stays');
    await sandbox.kill();
    await sandbox.wait();
    const podStopped = await dockerPodStats(layout, await sandbox.inspect());
    assert.deepEqual(podStopped, { cgroupPath: undefined, cgroup: undefined, network: undefined });
  } finally {
    await c.remove({ force: true });
    await sandbox.remove({ force: true });
  }
});

test('the writable-layer walk stops at its bound', async () => {
  const sandbox = await env.createSandbox('k8s_POD_bound_default_uid5_0');
  try {
    await sandbox.start();
    await exec(sandbox, ['sh', '-c', 'mkdir /many && cd /many && for i in $(seq 1 50); do touch f$i; done']);
    const full = await dockerContainerCgroupStats(layout, await sandbox.inspect());
    assert.ok(full.writable!.inodes >= 51);
    const bounded = await dockerContainerCgroupStats(layout, await sandbox.inspect(), { maxInodes: 10 });
    assert.deepEqual([bounded.writable!.inodes, bounded.writable!.truncated], [10, true]);
  } finally {
    await sandbox.remove({ force: true });
  }
});

test('/proc/net/dev lines', () => {
  const text = [
    'Inter-|   Receive                                                |  Transmit',
    ' face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed',
    '    lo:     168       2    0    0    0     0          0         0      168       2    0    0    0     0       0          0',
    '  eth0: 1000 10 1 0 0 0 0 0 2000 20 3 0 0 0 0 0',
  ].join('\n');
  assert.deepEqual(parseNetDev(text), [
    { name: 'lo', rxBytes: 168, rxErrors: 0, txBytes: 168, txErrors: 0 },
    { name: 'eth0', rxBytes: 1000, rxErrors: 1, txBytes: 2000, txErrors: 3 },
  ]);
});
