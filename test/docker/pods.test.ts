// berth dockershim: pods and containers on a real Docker Engine, laid out as cri-dockerd lays
// them out, through the CRI socket.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { ContainerState, NamespaceMode, PodSandboxState } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { mountsUnder } from '../support/daemon.ts';
import { type DockershimEnv, startDockershimEnv } from '../support/dockershim.ts';
import { expectCriError, run, sleep, waitFor } from '../support/pod-fixtures.ts';

describe('berth dockershim: pods and containers on Docker Engine', { timeout: 300_000 }, () => {
  let env: DockershimEnv;
  before(async () => {
    env = await startDockershimEnv({ index: 1, engine: { liveRestore: true } });
    await env.loadImages();
  });
  afterEach(async () => {
    await env.removeAllPods();
  });
  after(async () => {
    await env?.cleanUp();
  });

  test('a pod is a Docker container of the sandbox image, named and labelled as cri-dockerd does, networked by CNI', async () => {
    const cri = env.cri();
    const config = env.podConfig('web', { labels: { app: 'web' }, annotations: { note: 'x' }, hostname: 'webhost' });
    const { podSandboxId: id } = await cri.runtime.runPodSandbox({ config });
    const inspect = await env.engine.docker.getContainer(id).inspect();
    assert.equal(inspect.Name, '/k8s_POD_web_default_uid-web_0');
    assert.equal(inspect.Config.Labels['io.kubernetes.docker.type'], 'podsandbox');
    assert.equal(inspect.Config.Labels['annotation.note'], 'x');
    assert.equal(inspect.HostConfig.NetworkMode, 'none');
    assert.equal(inspect.State.Running, true);
    assert.ok(existsSync(path.join(env.root, 'sandbox', id)), 'the sandbox checkpoint');

    const { status } = await cri.runtime.podSandboxStatus({ podSandboxId: id });
    assert.equal(status?.state, PodSandboxState.SANDBOX_READY);
    assert.ok(status?.network?.ip.startsWith(env.subnetPrefix), `pod IP ${status?.network?.ip}`);
    assert.deepEqual(status?.labels, { app: 'web' });
    assert.deepEqual(status?.annotations, { note: 'x' });
    assert.deepEqual(status?.metadata, {
      $typeName: 'runtime.v1.PodSandboxMetadata',
      name: 'web',
      namespace: 'default',
      uid: 'uid-web',
      attempt: 0,
    });
    assert.equal(status?.linux?.namespaces?.options?.network, NamespaceMode.POD);

    const listed = await cri.runtime.listPodSandbox({ filter: { labelSelector: { app: 'web' } } });
    assert.deepEqual(
      listed.items.map((s) => [s.id, s.state]),
      [[id, PodSandboxState.SANDBOX_READY]],
    );

    // A container joins the pod's network: it sees the pod's address and hostname.
    const { containerId } = await cri.runtime.createContainer({
      podSandboxId: id,
      config: env.containerConfig('app'),
      sandboxConfig: config,
    });
    const c = await env.engine.docker.getContainer(containerId).inspect();
    assert.equal(c.Name, '/k8s_app_web_default_uid-web_0');
    assert.equal(c.Config.Labels['io.kubernetes.sandbox.id'], id);
    assert.equal(c.HostConfig.NetworkMode, `container:${id}`);
    let cs = (await cri.runtime.containerStatus({ containerId })).status;
    assert.equal(cs?.state, ContainerState.CONTAINER_CREATED);
    await cri.runtime.startContainer({ containerId });
    cs = (await cri.runtime.containerStatus({ containerId })).status;
    assert.equal(cs?.state, ContainerState.CONTAINER_RUNNING);
    assert.equal(cs?.logPath, path.join(env.logRoot, 'web', 'app.log'));
    const seen = await cri.runtime.execSync({
      containerId,
      cmd: ['sh', '-c', 'hostname; cat /proc/net/fib_trie | grep -c "' + status!.network!.ip + '"'],
      timeout: 10n,
    });
    assert.equal(seen.exitCode, 0, Buffer.from(seen.stderr).toString());
    const [hostname, ipSeen] = Buffer.from(seen.stdout).toString().trim().split('\n');
    assert.equal(hostname, 'webhost');
    assert.ok(Number(ipSeen) > 0, 'the container has the pod IP');
    const containers = await cri.runtime.listContainers({ filter: { podSandboxId: id } });
    assert.deepEqual(
      containers.containers.map((x) => [x.id, x.state, x.metadata?.name]),
      [[containerId, ContainerState.CONTAINER_RUNNING, 'app']],
    );

    await cri.runtime.stopPodSandbox({ podSandboxId: id });
    assert.equal((await cri.runtime.podSandboxStatus({ podSandboxId: id })).status?.state, PodSandboxState.SANDBOX_NOTREADY);
    assert.equal((await cri.runtime.containerStatus({ containerId })).status?.state, ContainerState.CONTAINER_EXITED);
    await cri.runtime.removePodSandbox({ podSandboxId: id });
    await cri.runtime.removePodSandbox({ podSandboxId: id }); // idempotent
    assert.equal((await env.engine.docker.listContainers({ all: true })).length, 0);
    assert.deepEqual(await readdir(path.join(env.root, 'sandbox')), []);
    const netnsRoot = await realpath(path.join(env.root, 'netns'));
    assert.deepEqual(await mountsUnder(netnsRoot), [netnsRoot], 'only the netns root is mounted: no pin left');
    const allocations = await readdir(path.join(env.dir, 'ipam', 'berth-dock-1')).catch(() => [] as string[]);
    assert.deepEqual(
      allocations.filter((f) => f.startsWith('10.')),
      [],
      'no IP left allocated',
    );
  });

  test('exit codes, the reason of an exit and the finish time', async () => {
    const cri = env.cri();
    const config = env.podConfig('exits');
    const { podSandboxId } = await cri.runtime.runPodSandbox({ config });
    for (const [script, code, reason] of [
      ['exit 3', 3, 'Error'],
      ['true', 0, 'Completed'],
    ] as const) {
      const name = `c${code}`;
      const { containerId } = await cri.runtime.createContainer({
        podSandboxId,
        config: env.containerConfig(name, script),
        sandboxConfig: config,
      });
      await cri.runtime.startContainer({ containerId });
      const s = await waitFor('the exit', async () => {
        const st = (await cri.runtime.containerStatus({ containerId })).status;
        return st?.state === ContainerState.CONTAINER_EXITED ? st : undefined;
      });
      assert.equal(s.exitCode, code);
      assert.equal(s.reason, reason);
      assert.ok(s.startedAt > 0n, `started at ${s.startedAt}`);
      assert.ok(s.finishedAt >= s.startedAt, `finished at ${s.finishedAt}, started at ${s.startedAt}`);
    }
    await cri.runtime.removePodSandbox({ podSandboxId });
  });

  test('bad input: unknown IDs, a taken name, an unknown handler, a pod in its own user namespace; nothing left', async () => {
    const cri = env.cri();
    const unknown = 'f'.repeat(64);
    await expectCriError(cri.runtime.podSandboxStatus({ podSandboxId: unknown }), 'NOT_FOUND');
    await expectCriError(cri.runtime.containerStatus({ containerId: unknown }), 'NOT_FOUND');
    await expectCriError(cri.runtime.startContainer({ containerId: unknown }), 'NOT_FOUND');
    await cri.runtime.removeContainer({ containerId: unknown });
    await expectCriError(cri.runtime.runPodSandbox({ config: env.podConfig('h'), runtimeHandler: 'no-such' }), 'INVALID_ARGUMENT');
    await expectCriError(
      cri.runtime.runPodSandbox({
        config: env.podConfig('userns', {
          linux: {
            securityContext: {
              namespaceOptions: {
                usernsOptions: {
                  mode: NamespaceMode.POD,
                  uids: [{ hostId: 100000, containerId: 0, length: 65536 }],
                  gids: [{ hostId: 100000, containerId: 0, length: 65536 }],
                },
              },
            },
          },
        }),
      }),
      'INVALID_ARGUMENT',
    );
    const config = env.podConfig('taken');
    const { podSandboxId } = await cri.runtime.runPodSandbox({ config });
    await expectCriError(cri.runtime.runPodSandbox({ config }), 'ALREADY_EXISTS');
    await cri.runtime.createContainer({ podSandboxId, config: env.containerConfig('one'), sandboxConfig: config });
    await expectCriError(
      cri.runtime.createContainer({ podSandboxId, config: env.containerConfig('one'), sandboxConfig: config }),
      'ALREADY_EXISTS',
    );
    await expectCriError(
      cri.runtime.createContainer({
        podSandboxId,
        config: env.containerConfig('img', 'true', { image: { image: 'registry.pods.test/none:1' } }),
        sandboxConfig: config,
      }),
      'NOT_FOUND',
    );
    await cri.runtime.removePodSandbox({ podSandboxId });
    assert.equal((await env.engine.docker.listContainers({ all: true })).length, 0);
  });

  test('a restart of the dockershim, also kill -9, keeps the pods: same lists, states and IPs', async () => {
    const cri = env.cri();
    const config = env.podConfig('keep');
    const { podSandboxId } = await cri.runtime.runPodSandbox({ config });
    const { containerId } = await cri.runtime.createContainer({ podSandboxId, config: env.containerConfig('app'), sandboxConfig: config });
    await cri.runtime.startContainer({ containerId });
    const before = (await cri.runtime.podSandboxStatus({ podSandboxId })).status;
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      await env.restart(signal);
      const after = (await env.cri().runtime.podSandboxStatus({ podSandboxId })).status;
      assert.equal(after?.network?.ip, before?.network?.ip);
      assert.equal(after?.state, PodSandboxState.SANDBOX_READY);
      assert.equal((await env.cri().runtime.containerStatus({ containerId })).status?.state, ContainerState.CONTAINER_RUNNING);
    }
    await env.cri().runtime.removePodSandbox({ podSandboxId });
    const text = await readFile(path.join(env.dir, 'config.toml'), 'utf8');
    assert.match(text, /\[dockershim\]/);
  });

  test('logs in the CRI format at log_path, reopened after a rename; stats from cgroups', async () => {
    const cri = env.cri();
    const config = env.podConfig('logs');
    const { podSandboxId } = await cri.runtime.runPodSandbox({ config });
    const script = 'i=0; while true; do echo line $i; echo err $i >&2; i=$((i+1)); sleep 0.1; done';
    const { containerId } = await cri.runtime.createContainer({
      podSandboxId,
      config: env.containerConfig('talker', script),
      sandboxConfig: config,
    });
    await cri.runtime.startContainer({ containerId });
    const logPath = path.join(env.logRoot, 'logs', 'talker.log');
    const first = await waitFor('lines in the log', async () => {
      const text = await readFile(logPath, 'utf8').catch(() => '');
      return text.split('\n').length > 6 ? text : undefined;
    });
    assert.match(first, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) stdout F line 0$/m);
    assert.match(first, / stderr F err 0$/m);
    const { rename } = await import('node:fs/promises');
    await rename(logPath, `${logPath}.1`);
    await cri.runtime.reopenContainerLog({ containerId });
    const second = await waitFor('lines in the new log', async () => {
      const text = await readFile(logPath, 'utf8').catch(() => '');
      return text.split('\n').length > 4 ? text : undefined;
    });
    // Nothing lost or written twice across the two files.
    const numbers = (text: string) => [...text.matchAll(/stdout F line (\d+)$/gm)].map((m) => Number(m[1]));
    const all = [...numbers(await readFile(`${logPath}.1`, 'utf8')), ...numbers(second)];
    assert.deepEqual(
      all,
      all.map((_, k) => k),
      'line numbers in order without gaps',
    );

    const { stats } = await cri.runtime.containerStats({ containerId });
    assert.ok((stats?.cpu?.usageCoreNanoSeconds?.value ?? 0n) > 0n, 'CPU used');
    assert.ok((stats?.memory?.workingSetBytes?.value ?? 0n) > 0n, 'memory used');
    const pod = (await cri.runtime.podSandboxStats({ podSandboxId })).stats;
    assert.equal(pod?.linux?.containers.length, 1);
    assert.ok((pod?.linux?.memory?.workingSetBytes?.value ?? 0n) > 0n);
    await cri.runtime.removePodSandbox({ podSandboxId });
  });

  test('an engine that is down answers UNAVAILABLE; a restart of dockerd with live-restore keeps the pods', async () => {
    const cri = env.cri();
    const config = env.podConfig('live');
    const { podSandboxId } = await cri.runtime.runPodSandbox({ config });
    const { containerId } = await cri.runtime.createContainer({ podSandboxId, config: env.containerConfig('app'), sandboxConfig: config });
    await cri.runtime.startContainer({ containerId });
    const before = (await cri.runtime.podSandboxStatus({ podSandboxId })).status;
    const pid = (await env.engine.docker.getContainer(containerId).inspect()).State.Pid;

    await env.engine.halt();
    await expectCriError(cri.runtime.runPodSandbox({ config: env.podConfig('while-down') }), 'UNAVAILABLE');
    await expectCriError(cri.runtime.containerStatus({ containerId }), 'UNAVAILABLE');
    await expectCriError(cri.runtime.listPodSandbox({}), 'UNAVAILABLE');
    const status = await cri.runtime.status({});
    assert.equal(status.status?.conditions.find((c) => c.type === 'RuntimeReady')?.status, false);
    await env.engine.start();

    // The container ran on (live-restore) and is the same process; nothing of the refused pod exists.
    assert.equal((await env.engine.docker.getContainer(containerId).inspect()).State.Pid, pid);
    const after = (await cri.runtime.podSandboxStatus({ podSandboxId })).status;
    assert.equal(after?.state, PodSandboxState.SANDBOX_READY);
    assert.equal(after?.network?.ip, before?.network?.ip);
    assert.equal((await cri.runtime.containerStatus({ containerId })).status?.state, ContainerState.CONTAINER_RUNNING);
    assert.deepEqual(
      (await cri.runtime.listPodSandbox({})).items.map((i) => i.metadata?.name),
      ['live'],
    );
    await cri.runtime.removePodSandbox({ podSandboxId });
  });

  test('an engine that stops in the middle of RunPodSandbox: UNAVAILABLE, and what it left is listed and removable', async () => {
    const cri = env.cri();
    const call = cri.runtime.runPodSandbox({ config: env.podConfig('midway') }).then(
      (r) => ({ id: r.podSandboxId }),
      (e: { fields?: Record<string, unknown> }) => ({ status: e.fields?.grpcStatus }),
    );
    await sleep(30); // the call is on its way: the engine goes while it works
    await env.engine.halt();
    const outcome = await call;
    await env.engine.start();
    if ('status' in outcome) assert.equal(outcome.status, 'UNAVAILABLE');
    for (const s of (await cri.runtime.listPodSandbox({})).items) await cri.runtime.removePodSandbox({ podSandboxId: s.id });
    assert.deepEqual(await env.engine.docker.listContainers({ all: true }), []);
    assert.deepEqual(await readdir(path.join(env.root, 'sandbox')).catch(() => []), []);
  });

  test('the berth CLI against the dockershim socket, as against any CRI endpoint', async () => {
    const cri = env.cri();
    const config = env.podConfig('cli');
    const { podSandboxId } = await cri.runtime.runPodSandbox({ config });
    const berth = path.resolve(import.meta.dirname, '../../bin/berth');
    const endpoint = `unix://${env.socket}`;
    const pods = await run(berth, ['-r', endpoint, 'pods', '-o', 'json']);
    assert.equal(pods.code, 0, pods.stderr);
    assert.ok(pods.stdout.includes(podSandboxId), pods.stdout);
    const version = await run(berth, ['-r', endpoint, 'version']);
    assert.match(version.stdout, /RuntimeName:\s+docker/);
    await cri.runtime.removePodSandbox({ podSandboxId });
  });

  test("a sandbox whose process died behind the dockershim's back: its network is still undone", async () => {
    const cri = env.cri();
    const { podSandboxId } = await cri.runtime.runPodSandbox({ config: env.podConfig('killed') });
    const nat = async () => (await run('iptables-save', ['-t', 'nat'])).stdout.split('\n').filter((l) => l.includes(podSandboxId));
    assert.ok((await nat()).length > 0, 'the bridge plugin masquerades the pod');
    await env.engine.docker.getContainer(podSandboxId).kill();
    await waitFor('the sandbox to stop', async () => !(await env.engine.docker.getContainer(podSandboxId).inspect()).State.Running);
    assert.equal((await cri.runtime.podSandboxStatus({ podSandboxId })).status?.state, PodSandboxState.SANDBOX_NOTREADY);
    await cri.runtime.stopPodSandbox({ podSandboxId });
    assert.deepEqual(await nat(), [], 'no NAT rule of the pod left');
    await cri.runtime.removePodSandbox({ podSandboxId });
  });
});
