// No leaks: after StopPodSandbox and RemovePodSandbox of pods of every kind (own network or the
// node's, with or without an infra container, the default cgroup parent or the pod's own), nothing
// of them remains on the host: no mount below the daemon's state and root dirs, no network
// namespace file, no veth on the test's bridge, no IP allocation, no CNI cache record, no iptables
// chain or rule, no cgroup, no conmon or container process, no state file. The leak checks are
// first shown to see what a running pod holds.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { ContainerState, NamespaceMode, PodSandboxState, Protocol } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { bridgePorts, type PodEnv, type PodInit, pidAlive, run, setUpAndTearDown, startPodEnv, waitFor } from '../support/pod-fixtures.ts';
import { freePort } from '../support/ports.ts';

let env: PodEnv;
/** The host before any pod ran (but after the daemon made its namespace root). */
let baseline: string[];

setUpAndTearDown(
  async () => {
    env = await startPodEnv({
      index: 4,
      ipMasq: true,
      plugins: [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }, { type: 'firewall' }],
    });
    baseline = await env.hostState();
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

interface Variant {
  name: string;
  network: NamespaceMode;
  pid: NamespaceMode;
  /** Use the daemon's default cgroup parent (/berth) instead of the pod's own. */
  defaultCgroupParent?: boolean;
}

const VARIANTS: Variant[] = [
  { name: 'own-net', network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER },
  { name: 'own-net-infra', network: NamespaceMode.POD, pid: NamespaceMode.POD },
  { name: 'host-net', network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER },
  { name: 'host-net-infra', network: NamespaceMode.NODE, pid: NamespaceMode.POD },
  { name: 'default-cgroup', network: NamespaceMode.POD, pid: NamespaceMode.POD, defaultCgroupParent: true },
];

function podFor(v: Variant, extra: PodInit = {}): PodInit {
  const linux: LinuxInit = {
    securityContext: { namespaceOptions: { network: v.network, pid: v.pid } },
    ...(v.defaultCgroupParent ? { cgroupParent: '' } : {}),
  };
  return env.podConfig(v.name, { ...extra, linux });
}

interface RunningPod {
  variant: Variant;
  id: string;
  ip: string;
  containers: string[];
  pids: number[];
}

/** A pod with a running, an exited and a created container. */
async function startPod(v: Variant): Promise<RunningPod> {
  const hostPort = await freePort();
  const config = podFor(
    v,
    v.network === NamespaceMode.POD ? { portMappings: [{ protocol: Protocol.TCP, containerPort: 80, hostPort, hostIp: '127.0.0.1' }] } : {},
  );
  const id = await env.runPod(config);
  const ns = { linux: { securityContext: { namespaceOptions: { network: v.network, pid: v.pid } } } };
  const running = await env.startContainer(id, env.containerConfig('running', undefined, ns), config);
  const exited = await env.startContainer(id, env.containerConfig('exited', 'exit 2', ns), config);
  const created = await env.createContainer(id, env.containerConfig('created', undefined, ns), config);
  await waitFor(
    'the exited container',
    async () => (await rt().containerStatus({ containerId: exited })).status?.state === ContainerState.CONTAINER_EXITED,
  );
  const pids: number[] = [];
  for (const c of [running]) {
    const info = JSON.parse((await rt().containerStatus({ containerId: c, verbose: true })).info.info ?? '{}') as {
      pid: number;
      conmonPid: number;
    };
    pids.push(info.pid, info.conmonPid);
  }
  const podInfo = JSON.parse((await rt().podSandboxStatus({ podSandboxId: id, verbose: true })).info.info ?? '{}') as { pid: number };
  if (podInfo.pid > 0) pids.push(podInfo.pid);
  const ip = (await rt().podSandboxStatus({ podSandboxId: id })).status?.network?.ip ?? '';
  return { variant: v, id, ip, containers: [running, exited, created], pids };
}

async function iptablesMentioning(needles: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const table of ['nat', 'filter']) {
    const r = await run('iptables', ['-w', '-t', table, '-S']);
    for (const l of r.stdout.split('\n')) if (needles.some((n) => l.includes(n))) out.push(`${table}: ${l}`);
  }
  return out;
}

/** Open file descriptors and child processes of the daemon. */
async function daemonHandles(): Promise<{ fds: number; children: number }> {
  const pid = env.daemon.pid;
  const fds = (await readdir(`/proc/${pid}/fd`)).length;
  const tasks = await readdir(`/proc/${pid}/task`);
  const children = await Promise.all(tasks.map((t) => readFile(path.join(`/proc/${pid}/task`, t, 'children'), 'utf8').catch(() => '')));
  const kids = children.join(' ').trim();
  return { fds, children: kids === '' ? 0 : kids.split(/\s+/).length };
}

describe('no leaks after stop and remove', { timeout: 180_000 }, () => {
  // Whatever a failed test left goes, so that the next one starts from the baseline.
  afterEach(() => env.removeAllPods());

  test('pods of every kind: everything they held is gone after stop and remove', async () => {
    const pods: RunningPod[] = [];
    for (const v of VARIANTS) pods.push(await startPod(v));
    const podIds = pods.map((p) => p.id);
    const containerIds = pods.flatMap((p) => p.containers);
    const ips = pods.filter((p) => p.ip !== '').map((p) => p.ip);
    assert.equal(ips.length, 3, 'three pods have their own network');

    // The checks see what running pods hold.
    const held = await env.leftovers({ pods: podIds, containers: containerIds });
    for (const kind of ['state file', 'mount', 'cgroup', 'process', 'IP allocation', 'CNI cache', 'iptables chain']) {
      assert.ok(
        held.some((h) => h.startsWith(kind)),
        `a running pod's ${kind} is seen: ${JSON.stringify(held, null, 1)}`,
      );
    }
    assert.ok(
      held.some((h) => h.startsWith('cgroup') && h.includes('/berth/')),
      'the default cgroup parent /berth is used',
    );
    assert.equal((await bridgePorts(env.net.bridge)).length, 3, 'one veth per pod with its own network');
    assert.ok((await iptablesMentioning(ips.map((ip) => `${ip}/32`))).length > 0, 'firewall rules for the pod IPs');
    assert.notDeepEqual(await env.hostState(), baseline);

    // Stop and remove, in several ways: stop then remove; remove alone (it stops); containers first.
    const [a, b, c, d, e] = pods as [RunningPod, RunningPod, RunningPod, RunningPod, RunningPod];
    for (const p of [a, c]) {
      await rt().stopPodSandbox({ podSandboxId: p.id });
      await rt().removePodSandbox({ podSandboxId: p.id });
    }
    for (const p of [b, d]) await rt().removePodSandbox({ podSandboxId: p.id });
    for (const id of e.containers) {
      await rt().stopContainer({ containerId: id, timeout: 0n });
      await rt().removeContainer({ containerId: id });
    }
    await rt().stopPodSandbox({ podSandboxId: e.id });
    await rt().stopPodSandbox({ podSandboxId: e.id });
    await rt().removePodSandbox({ podSandboxId: e.id });

    assert.deepEqual((await rt().listPodSandbox({})).items, []);
    assert.deepEqual((await rt().listContainers({})).containers, []);
    assert.deepEqual(await env.leftovers({ pods: podIds, containers: containerIds }), [], 'nothing of the pods remains');
    assert.deepEqual(await bridgePorts(env.net.bridge), [], 'no veth on the bridge');
    assert.deepEqual(await env.ipAllocations(), [], 'no IP allocation');
    assert.deepEqual(await iptablesMentioning([...ips.map((ip) => `${ip}/32`), ...podIds]), [], 'no iptables rule of the pods');
    for (const pid of pods.flatMap((p) => p.pids)) assert.ok(!pidAlive(pid), `process ${pid} is gone`);
    for (const sub of ['containers', 'pods', 'ns']) {
      assert.deepEqual(await readdir(path.join(env.daemon.state, sub)), [], `state/${sub} is empty`);
    }
    for (const rtName of await readdir(path.join(env.daemon.state, 'monitors'))) {
      for (const sub of ['containers', 'exits', 'attach']) {
        assert.deepEqual(
          await readdir(path.join(env.daemon.state, 'monitors', rtName, sub)).catch(() => []),
          [],
          `monitors/${rtName}/${sub} is empty`,
        );
      }
    }
    assert.deepEqual(await env.hostState(), baseline, 'the host is as before the pods');
  });

  test('a stopped pod holds no namespace, veth, IP or process; its records stay until it is removed', async () => {
    for (const v of [VARIANTS[0]!, VARIANTS[1]!]) {
      const p = await startPod(v);
      await rt().stopPodSandbox({ podSandboxId: p.id });
      const { status } = await rt().podSandboxStatus({ podSandboxId: p.id });
      assert.equal(status?.state, PodSandboxState.SANDBOX_NOTREADY);
      assert.equal(status?.network?.ip ?? '', '', 'a stopped pod reports no IP');
      // Running containers are stopped; a created one stays created (as containerd leaves it), and cannot start now.
      const states = (await rt().listContainers({ filter: { podSandboxId: p.id } })).containers.map((c) => c.state).sort();
      assert.deepEqual(states, [ContainerState.CONTAINER_CREATED, ContainerState.CONTAINER_EXITED, ContainerState.CONTAINER_EXITED]);
      await assert.rejects(rt().startContainer({ containerId: p.containers[2]! }), /not ready/);
      const held = await env.leftovers({ pods: [p.id], containers: p.containers });
      // What stays until removal: records, the containers' root filesystems, and their (empty) cgroups.
      assert.deepEqual(
        held.filter((h) => !h.startsWith('state file') && !h.startsWith('mount') && !h.startsWith('cgroup')),
        [],
        `${v.name}: only records, root filesystems and empty cgroups stay (${JSON.stringify(held)})`,
      );
      for (const h of held.filter((x) => x.startsWith('cgroup '))) {
        const procs = await readFile(path.join(h.slice('cgroup '.length), 'cgroup.procs'), 'utf8').catch(() => '');
        assert.equal(procs, '', `${h} has no process`);
      }
      assert.ok(!held.some((h) => h.includes(`/ns/${p.id}`)), 'the namespace files are gone');
      assert.deepEqual(await bridgePorts(env.net.bridge), []);
      assert.deepEqual(await env.ipAllocations(), []);
      for (const pid of p.pids) assert.ok(!pidAlive(pid), `process ${pid} is gone`);
      await rt().removePodSandbox({ podSandboxId: p.id });
      assert.deepEqual(await env.leftovers({ pods: [p.id], containers: p.containers }), []);
    }
    assert.deepEqual(await env.hostState(), baseline);
  });

  test('pods run and removed in a row: the daemon’s file descriptors and children do not grow', async () => {
    const cycle = async () => {
      const p = await startPod(VARIANTS[1]!);
      await rt().execSync({ containerId: p.containers[0]!, cmd: ['true'], timeout: 5n });
      await rt().containerStats({ containerId: p.containers[0]! });
      await rt().removePodSandbox({ podSandboxId: p.id });
    };
    await cycle();
    const start = await daemonHandles();
    for (let i = 0; i < 4; i++) await cycle();
    const end = await daemonHandles();
    assert.equal(end.children, start.children, 'no child process of the daemon is left');
    assert.ok(end.fds <= start.fds + 2, `the daemon's open files do not grow (${start.fds} → ${end.fds})`);
    const left = await env.hostState();
    assert.deepEqual(left, baseline, `the host is as before the pods; daemon warnings:\n${warnings().join('\n')}`);
  });
});

/** The daemon's log lines of level warn and above. */
function warnings(): string[] {
  return env.daemon
    .logEntries()
    .filter((e) => (typeof e.level === 'string' ? ['warn', 'error', 'fatal'].includes(e.level) : Number(e.level) >= 40))
    .map((e) => JSON.stringify(e).slice(0, 600));
}
