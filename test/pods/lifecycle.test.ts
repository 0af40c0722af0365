// Pods and containers through a real `berth daemon` over CRI: a pod's network, hostname and DNS
// files; a container's life (create, start, exec, logs, stop with a grace period, remove); shared
// PID namespaces with the infra container; host network; exit reasons (Completed, Error,
// OOMKilled); resources updated in the cgroup; log reopening; stats; a host port through portmap.
import assert from 'node:assert/strict';
import { readFile, rename, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ContainerState, NamespaceMode, PodSandboxState, Protocol } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import {
  exec,
  execOk,
  expectCriError,
  memoryCgroupDir,
  namespaceOf,
  type PodEnv,
  pidAlive,
  readLog,
  setUpAndTearDown,
  startPodEnv,
  waitFor,
  waitForLog,
} from '../support/pod-fixtures.ts';
import { freePort } from '../support/ports.ts';

const MiB = 1024n * 1024n;

let env: PodEnv;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({ index: 1 });
  },
  async () => {
    if (env === undefined) return;
    const podIds = [...env.podIds];
    const containerIds = [...env.containerIds];
    const forced = await env.cleanUp();
    // The namespace root is the daemon's own mount (not a pod's): the fixture unmounts it at the end.
    const unexpected = forced.filter((f) => !f.endsWith('/state/ns'));
    assert.deepEqual(unexpected, [], `cleanup had to remove leftovers of ${podIds.length} pods and ${containerIds.length} containers`);
  },
);

const rt = () => env.cri.runtime;

async function status(containerId: string) {
  const r = await rt().containerStatus({ containerId, verbose: true });
  assert.ok(r.status);
  return {
    status: r.status,
    info: JSON.parse(r.info.info ?? '{}') as { pid: number; conmonPid: number; runtimeSpec?: Record<string, unknown> },
  };
}

async function waitExited(containerId: string, timeoutMs = 15_000) {
  return waitFor(
    `container ${containerId.slice(0, 12)} to exit`,
    async () => {
      const { status: s } = await status(containerId);
      return s.state === ContainerState.CONTAINER_EXITED ? s : undefined;
    },
    timeoutMs,
  );
}

/** Removes a pod and checks that it is gone. */
async function removePod(podId: string): Promise<void> {
  await rt().stopPodSandbox({ podSandboxId: podId });
  await rt().removePodSandbox({ podSandboxId: podId });
  await expectCriError(rt().podSandboxStatus({ podSandboxId: podId }), 'NOT_FOUND');
}

/** GET / over plain TCP (HTTP/1.0); the body of a 200 answer. */
function httpGet(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => s.write('GET / HTTP/1.0\r\n\r\n'));
    let data = '';
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`timeout reading from ${host}:${port}`)));
    s.on('data', (d) => {
      data += d.toString();
    });
    s.on('end', () => {
      const [head = '', body = ''] = data.split('\r\n\r\n');
      if (!/^HTTP\/1\.[01] 200/.test(head)) reject(new Error(`not a 200 answer: ${JSON.stringify(data.slice(0, 200))}`));
      else resolve(body);
    });
    s.on('error', reject);
  });
}

describe('pods and containers through the daemon', { timeout: 120_000 }, () => {
  // Whatever a failed test left goes, so that it does not fail the next ones.
  afterEach(() => env.removeAllPods());

  test('a pod has an IP in the subnet, its hostname, resolv.conf from its DNS config and /etc/hosts', async () => {
    const config = env.podConfig('net', {
      hostname: 'net-host',
      dnsConfig: {
        servers: ['10.0.0.10', '10.0.0.11'],
        searches: ['berth-pods.svc.cluster.local', 'svc.cluster.local'],
        options: ['ndots:5'],
      },
      linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } },
    });
    const podId = await env.runPod(config);
    const { status: s } = await rt().podSandboxStatus({ podSandboxId: podId });
    assert.ok(s);
    assert.equal(s.state, PodSandboxState.SANDBOX_READY);
    assert.equal(s.metadata?.name, 'net');
    assert.ok(s.network?.ip.startsWith(env.net.prefix), `pod IP ${s.network?.ip} is in ${env.net.subnet}`);
    const ip = s.network!.ip;
    assert.notEqual(ip, `${env.net.prefix}1`, 'the gateway address is not handed out');
    assert.ok(s.createdAt > 0n);

    const listed = await rt().listPodSandbox({ filter: { labelSelector: { 'berth.test/pod': 'net' } } });
    assert.deepEqual(
      listed.items.map((p) => p.id),
      [podId],
    );

    const c = await env.startContainer(podId, env.containerConfig('main'), config);
    assert.equal((await execOk(env, c, 'hostname')).trim(), 'net-host');
    assert.equal((await execOk(env, c, 'cat /etc/hostname')).trim(), 'net-host');
    assert.equal(
      await execOk(env, c, 'cat /etc/resolv.conf'),
      'search berth-pods.svc.cluster.local svc.cluster.local\nnameserver 10.0.0.10\nnameserver 10.0.0.11\noptions ndots:5\n',
    );
    const hosts = await execOk(env, c, 'cat /etc/hosts');
    assert.match(hosts, /^127\.0\.0\.1\s+localhost$/m);
    assert.match(hosts, /^::1\s+localhost/m);
    const addr = await execOk(env, c, 'ip -o -4 addr show eth0');
    assert.ok(addr.includes(`inet ${ip}/24`), addr);
    assert.match(await execOk(env, c, 'ip -o link show lo'), /UP/);
    // The gateway (the bridge on the host) answers from inside the pod.
    await execOk(env, c, `ping -c 1 -W 2 ${env.net.prefix}1`);
    await removePod(podId);
  });

  test('a container: create, start, exec, CRI logs, stop, remove', async () => {
    const config = env.podConfig('life', { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } } });
    const podId = await env.runPod(config);
    const script =
      'trap "echo stopping; exit 0" TERM; echo "hello $GREETING"; echo oops >&2; printf partial; sleep 0.2; echo " line"; while :; do sleep 0.1; done';
    const c = await env.createContainer(
      podId,
      env.containerConfig('life', script, {
        envs: [{ key: 'GREETING', value: new TextEncoder().encode('world') }],
        labels: { tier: 'main' },
        annotations: { note: 'kept' },
      }),
      config,
    );
    let s = (await status(c)).status;
    assert.equal(s.state, ContainerState.CONTAINER_CREATED);
    assert.equal(s.startedAt, 0n);
    assert.ok(s.createdAt > 0n);
    assert.deepEqual(s.labels, { tier: 'main' });
    assert.deepEqual(s.annotations, { note: 'kept' });
    assert.equal(s.logPath, path.join(env.logRoot, 'life', 'life', '0.log'));
    const listedCreated = await rt().listContainers({
      filter: { podSandboxId: podId, state: { state: ContainerState.CONTAINER_CREATED } },
    });
    assert.deepEqual(
      listedCreated.containers.map((x) => x.id),
      [c],
    );

    await rt().startContainer({ containerId: c });
    const started = await status(c);
    s = started.status;
    assert.equal(s.state, ContainerState.CONTAINER_RUNNING);
    assert.ok(s.startedAt >= s.createdAt);
    assert.ok(started.info.pid > 0 && pidAlive(started.info.pid), 'verbose status gives the live pid');
    assert.ok(started.info.runtimeSpec, 'verbose status gives the OCI spec');
    await expectCriError(rt().startContainer({ containerId: c }), 'FAILED_PRECONDITION');

    // ExecSync: output of both streams, the exit code, env from the container config.
    const r = await exec(env, c, 'echo out; echo err >&2; echo "$GREETING"; exit 7');
    assert.deepEqual(r, { code: 7, stdout: 'out\nworld\n', stderr: 'err\n' });
    // A timeout kills the command and leaves nothing behind in the container.
    await expectCriError(rt().execSync({ containerId: c, cmd: ['/bin/sh', '-c', 'sleep 37'], timeout: 1n }), 'DEADLINE_EXCEEDED');
    await waitFor('the timed-out exec to be gone', async () => !(await execOk(env, c, 'ps')).includes('sleep 37'));

    // The log: "<RFC3339Nano> <stream> <P|F> <text>", stdout and stderr, partial lines as P.
    const lines = await waitForLog(s.logPath, ' line');
    for (const l of lines) assert.match(l.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}(Z|[+-]\d\d:\d\d)$/);
    assert.ok(
      lines.some((l) => l.stream === 'stdout' && l.tag === 'F' && l.text === 'hello world'),
      JSON.stringify(lines),
    );
    assert.ok(
      lines.some((l) => l.stream === 'stderr' && l.tag === 'F' && l.text === 'oops'),
      JSON.stringify(lines),
    );
    const partial = lines.findIndex((l) => l.tag === 'P' && l.text === 'partial');
    assert.ok(partial >= 0, `a partial line is tagged P: ${JSON.stringify(lines)}`);
    const rest = lines.slice(partial + 1).find((l) => l.stream === 'stdout');
    assert.deepEqual([rest?.tag, rest?.text], ['F', ' line'], 'the rest of the partial line follows as F');

    // Stop: the container handles SIGTERM and exits 0 by itself (a SIGKILL at the end of the grace
    // period would make it 137; the test's timeout is far below the hour of grace).
    await rt().stopContainer({ containerId: c, timeout: 3600n });
    s = (await status(c)).status;
    assert.equal(s.state, ContainerState.CONTAINER_EXITED);
    assert.equal(s.exitCode, 0);
    assert.equal(s.reason, 'Completed');
    assert.ok(s.finishedAt >= s.startedAt);
    assert.ok(!pidAlive(started.info.pid));
    assert.ok((await readLog(s.logPath)).some((l) => l.text === 'stopping'));
    // Stopping again is fine; exec in an exited container is not.
    await rt().stopContainer({ containerId: c, timeout: 0n });
    await expectCriError(rt().execSync({ containerId: c, cmd: ['true'], timeout: 5n }), 'FAILED_PRECONDITION');

    await rt().removeContainer({ containerId: c });
    await expectCriError(rt().containerStatus({ containerId: c }), 'NOT_FOUND');
    assert.equal((await rt().listContainers({ filter: { podSandboxId: podId } })).containers.length, 0);
    // The log stays for the kubelet to rotate and remove.
    assert.ok((await stat(s.logPath)).size > 0);
    await removePod(podId);
  });

  test('stop with a grace period: a container that ignores SIGTERM is killed after it (137)', async () => {
    const config = env.podConfig('stubborn', { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } } });
    const podId = await env.runPod(config);
    const c = await env.startContainer(
      podId,
      env.containerConfig('stubborn', "trap 'echo got TERM' TERM; echo ready; while :; do echo tick; sleep 0.1; done"),
      config,
    );
    const { status: running } = await status(c);
    await waitForLog(running.logPath, 'ready');
    await rt().stopContainer({ containerId: c, timeout: 2n });
    const { status: s } = await status(c);
    assert.equal(s.state, ContainerState.CONTAINER_EXITED);
    assert.equal(s.exitCode, 137, 'killed');
    assert.equal(s.reason, 'Error');
    // In this order: SIGTERM seen, the container runs on through its grace period, then SIGKILL.
    const texts = (await readLog(s.logPath)).map((l) => l.text);
    const term = texts.indexOf('got TERM');
    assert.ok(term >= 0, `the container saw SIGTERM first: ${texts.join(' | ')}`);
    assert.ok(texts.slice(term + 1).includes('tick'), 'it ran on after SIGTERM: the grace period was given');
    await removePod(podId);
  });

  test('a shared PID namespace: the infra container from the sandbox image is PID 1 of the pod', async () => {
    const config = env.podConfig('shared', { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } } });
    const podId = await env.runPod(config);
    const verbose = JSON.parse((await rt().podSandboxStatus({ podSandboxId: podId, verbose: true })).info.info ?? '{}') as {
      pid: number;
      infraContainer: string;
    };
    assert.ok(verbose.pid > 0 && pidAlive(verbose.pid), 'the infra container runs');
    // `runc start` returns once it has told `runc init` to go on; the exec of the command follows a moment later.
    const cmdline = async () => readFile(`/proc/${verbose.pid}/cmdline`, 'utf8');
    await waitFor('runc init to exec the command', async () => (await cmdline()).split('\0')[1] !== 'init');
    assert.match(await cmdline(), /^\/bin\/sleep\u00002147483647\u0000$/);
    const a = await env.startContainer(podId, env.containerConfig('a', 'exec sleep 3001'), config);
    const b = await env.startContainer(podId, env.containerConfig('b'), config);
    const ps = await execOk(env, b, 'ps -o pid,args');
    assert.match(ps, /^\s*1\s+\/bin\/sleep 2147483647$/m, ps);
    assert.match(ps, /sleep 3001/, 'a container sees the processes of the others');
    const pidA = (await status(a)).info.pid;
    const pidB = (await status(b)).info.pid;
    assert.equal(await namespaceOf(pidA, 'pid'), await namespaceOf(verbose.pid, 'pid'));
    assert.equal(await namespaceOf(pidB, 'pid'), await namespaceOf(verbose.pid, 'pid'));
    assert.equal(await namespaceOf(pidA, 'net'), await namespaceOf(pidB, 'net'));
    assert.equal(await namespaceOf(pidA, 'ipc'), await namespaceOf(pidB, 'ipc'));
    assert.equal(await namespaceOf(pidA, 'uts'), await namespaceOf(pidB, 'uts'));
    await removePod(podId);
    assert.ok(!pidAlive(verbose.pid), 'the infra container is gone with the pod');
  });

  test('a PID namespace per container: no infra process, each container is its own PID 1', async () => {
    const config = env.podConfig('own-pid', { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } } });
    const podId = await env.runPod(config);
    const verbose = JSON.parse((await rt().podSandboxStatus({ podSandboxId: podId, verbose: true })).info.info ?? '{}') as { pid: number };
    assert.equal(verbose.pid, 0, 'no infra container');
    const a = await env.startContainer(podId, env.containerConfig('a', 'exec sleep 3002'), config);
    const b = await env.startContainer(podId, env.containerConfig('b'), config);
    const ps = await execOk(env, b, 'ps -o pid,args');
    assert.doesNotMatch(ps, /2147483647|sleep 3002/, ps);
    assert.match(await execOk(env, a, 'ps -o pid,args'), /^\s*1\s+sleep 3002$/m);
    const pidA = (await status(a)).info.pid;
    const pidB = (await status(b)).info.pid;
    assert.notEqual(await namespaceOf(pidA, 'pid'), await namespaceOf(pidB, 'pid'));
    assert.equal(await namespaceOf(pidA, 'net'), await namespaceOf(pidB, 'net'), 'the network namespace is the pod’s');
    await removePod(podId);
  });

  test('a host-network pod: the node’s network and hostname, the node’s /etc/hosts', async () => {
    const config = env.podConfig('hostnet', {
      linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER } } },
    });
    const podId = await env.runPod(config);
    const { status: s } = await rt().podSandboxStatus({ podSandboxId: podId });
    assert.equal(s?.state, PodSandboxState.SANDBOX_READY);
    assert.equal(s?.network?.ip ?? '', '', 'a host-network pod has no pod IP of its own');
    assert.equal(s?.linux?.namespaces?.options?.network, NamespaceMode.NODE);
    // As the kubelet does, the container's namespace options repeat the pod's.
    const c = await env.startContainer(
      podId,
      env.containerConfig('main', undefined, {
        linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER } } },
      }),
      config,
    );
    const pid = (await status(c)).info.pid;
    assert.equal(await namespaceOf(pid, 'net'), await namespaceOf(process.pid, 'net'));
    assert.equal(await namespaceOf(pid, 'uts'), await namespaceOf(process.pid, 'uts'));
    assert.notEqual(await namespaceOf(pid, 'ipc'), await namespaceOf(process.pid, 'ipc'), 'IPC stays the pod’s own');
    assert.equal((await execOk(env, c, 'hostname')).trim(), os.hostname());
    assert.equal(await execOk(env, c, 'cat /etc/hosts'), await readFile('/etc/hosts', 'utf8'));
    assert.match(await execOk(env, c, 'ip -o link show'), new RegExp(`: ${env.net.bridge}:`), 'the node’s links are visible');
    await removePod(podId);
  });

  test('exit reasons: exit 0 is Completed, exit 3 is Error, a memory hog over its limit is OOMKilled', async () => {
    const config = env.podConfig('exits', { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } } });
    const podId = await env.runPod(config);
    const ok = await env.startContainer(podId, env.containerConfig('ok', 'echo done'), config);
    const bad = await env.startContainer(podId, env.containerConfig('bad', 'echo failing >&2; exit 3'), config);
    const hog = await env.startContainer(
      podId,
      env.containerConfig('hog', 'head -c 1000000000 /dev/zero | tail', { linux: { resources: { memoryLimitInBytes: 32n * MiB } } }),
      config,
    );
    const okStatus = await waitExited(ok);
    assert.equal(okStatus.exitCode, 0);
    assert.equal(okStatus.reason, 'Completed');
    assert.ok(okStatus.finishedAt >= okStatus.startedAt && okStatus.startedAt > 0n);
    const badStatus = await waitExited(bad);
    assert.equal(badStatus.exitCode, 3);
    assert.equal(badStatus.reason, 'Error');
    const hogStatus = await waitExited(hog, 30_000);
    assert.equal(hogStatus.reason, 'OOMKilled', `exit ${hogStatus.exitCode}, ${hogStatus.reason}: ${hogStatus.message}`);
    assert.equal(hogStatus.exitCode, 137);
    const exited = await rt().listContainers({ filter: { podSandboxId: podId, state: { state: ContainerState.CONTAINER_EXITED } } });
    assert.deepEqual(new Set(exited.containers.map((x) => x.id)), new Set([ok, bad, hog]));
    await removePod(podId);
  });

  test('UpdateContainerResources changes the memory limit in the container’s cgroup', async () => {
    const config = env.podConfig('update', { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } } });
    const podId = await env.runPod(config);
    const c = await env.startContainer(
      podId,
      env.containerConfig('main', undefined, { linux: { resources: { memoryLimitInBytes: 64n * MiB } } }),
      config,
    );
    const spec = (await status(c)).info.runtimeSpec as { linux?: { cgroupsPath?: string } };
    const cgroupsPath = spec.linux?.cgroupsPath;
    assert.ok(cgroupsPath, 'the container has a cgroups path');
    const limitFile = path.join(await memoryCgroupDir(cgroupsPath), 'memory.limit_in_bytes');
    const limit = async () => BigInt((await readFile(limitFile, 'utf8')).trim());
    assert.equal(await limit(), 64n * MiB);
    // Up (runc must raise memory+swap first on cgroup v1), then down again.
    await rt().updateContainerResources({ containerId: c, linux: { memoryLimitInBytes: 128n * MiB } });
    assert.equal(await limit(), 128n * MiB);
    await rt().updateContainerResources({ containerId: c, linux: { memoryLimitInBytes: 96n * MiB } });
    assert.equal(await limit(), 96n * MiB);
    const { status: s } = await status(c);
    assert.equal(s.resources?.linux?.memoryLimitInBytes, 96n * MiB, 'the status reports the new limit');
    // The container runs on, under its new limit.
    assert.equal((await execOk(env, c, 'echo alive')).trim(), 'alive');
    await expectCriError(
      rt().updateContainerResources({ containerId: 'f'.repeat(64), linux: { memoryLimitInBytes: 96n * MiB } }),
      'NOT_FOUND',
    );

    // An update of a container that is created but not started takes effect when it starts.
    const later = await env.createContainer(
      podId,
      env.containerConfig('later', undefined, { linux: { resources: { memoryLimitInBytes: 64n * MiB } } }),
      config,
    );
    await rt().updateContainerResources({ containerId: later, linux: { memoryLimitInBytes: 80n * MiB } });
    await rt().startContainer({ containerId: later });
    const laterPath = ((await status(later)).info.runtimeSpec as { linux?: { cgroupsPath?: string } }).linux?.cgroupsPath ?? '';
    const laterLimit = BigInt((await readFile(path.join(await memoryCgroupDir(laterPath), 'memory.limit_in_bytes'), 'utf8')).trim());
    assert.equal(laterLimit, 80n * MiB, 'the limit given before the start is the one in force');
    await removePod(podId);
  });

  test('ReopenContainerLog: after the log was moved away, conmon writes a new file at log_path', async () => {
    const config = env.podConfig('reopen', { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } } });
    const podId = await env.runPod(config);
    const c = await env.startContainer(
      podId,
      env.containerConfig('ticker', 'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.1; done'),
      config,
    );
    const { status: s } = await status(c);
    await waitForLog(s.logPath, 'tick 3');
    await rename(s.logPath, `${s.logPath}.1`);
    await rt().reopenContainerLog({ containerId: c });
    const fresh = await waitForLog(s.logPath, 'tick');
    const old = await readLog(`${s.logPath}.1`);
    const number = (t: string) => Number(t.replace('tick ', ''));
    const lastOld = Math.max(...old.map((l) => number(l.text)));
    const firstNew = Math.min(...fresh.map((l) => number(l.text)));
    assert.ok(firstNew > lastOld, `the new file goes on where the old one stopped (${lastOld} → ${firstNew})`);
    await rt().stopContainer({ containerId: c, timeout: 0n });
    await expectCriError(rt().reopenContainerLog({ containerId: c }), 'FAILED_PRECONDITION');
    await removePod(podId);
  });

  test('stats: CPU, memory and the writable layer of a running container and its pod', async () => {
    const parent = `/berth-test-pods-${process.pid}`;
    const config = env.podConfig('stats', {
      linux: { cgroupParent: parent, securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } },
    });
    const podId = await env.runPod(config);
    const c = await env.startContainer(
      podId,
      env.containerConfig(
        'busy',
        'dd if=/dev/zero of=/written bs=1k count=256 2>/dev/null; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo warm; while :; do sleep 1; done',
      ),
      config,
    );
    await waitForLog((await status(c)).status.logPath, 'warm', 20_000);

    const { stats } = await rt().containerStats({ containerId: c });
    assert.equal(stats?.attributes?.id, c);
    assert.ok((stats?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, 'CPU time');
    assert.ok((stats?.memory?.workingSetBytes?.value ?? 0n) > 0n, 'memory working set');
    assert.ok((stats?.writableLayer?.usedBytes?.value ?? 0n) >= 256n * 1024n, 'the written file counts in the writable layer');
    assert.ok((stats?.writableLayer?.inodesUsed?.value ?? 0n) > 0n);

    const list = await rt().listContainerStats({ filter: { podSandboxId: podId } });
    assert.deepEqual(
      list.stats.map((x) => x.attributes?.id),
      [c],
    );
    assert.ok((list.stats[0]?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n);

    const pod = (await rt().podSandboxStats({ podSandboxId: podId })).stats;
    assert.equal(pod?.attributes?.id, podId);
    assert.ok((pod?.linux?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, 'the pod’s CPU time (its cgroup parent)');
    assert.ok((pod?.linux?.memory?.workingSetBytes?.value ?? 0n) > 0n, 'the pod’s memory');
    assert.ok((pod?.linux?.process?.processCount?.value ?? 0n) > 0n, 'the pod’s processes');
    const inPod = pod?.linux?.containers.find((x) => x.attributes?.id === c);
    assert.ok((inPod?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n);
    assert.ok((inPod?.memory?.workingSetBytes?.value ?? 0n) > 0n);

    const pods = await rt().listPodSandboxStats({ filter: { id: podId } });
    assert.deepEqual(
      pods.stats.map((x) => x.attributes?.id),
      [podId],
    );
    await removePod(podId);
  });

  test('a host port on 127.0.0.1 reaches the container port through portmap', async () => {
    const hostPort = await freePort();
    const config = env.podConfig('web', {
      hostname: 'web',
      portMappings: [{ protocol: Protocol.TCP, containerPort: 8080, hostPort, hostIp: '127.0.0.1' }],
      linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } },
    });
    const podId = await env.runPod(config);
    const ip = (await rt().podSandboxStatus({ podSandboxId: podId })).status?.network?.ip ?? '';
    const c = await env.startContainer(
      podId,
      env.containerConfig('web', 'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www'),
      config,
    );
    assert.equal((await status(c)).status.state, ContainerState.CONTAINER_RUNNING);
    const viaHostPort = await waitFor('a reply through the host port', () => httpGet('127.0.0.1', hostPort));
    assert.equal(viaHostPort, 'hello from web\n');
    assert.equal(await httpGet(ip, 8080), 'hello from web\n', 'the pod IP answers too');
    await removePod(podId);
    await assert.rejects(httpGet('127.0.0.1', hostPort, 1000), 'the host port is closed with the pod');
  });
});
