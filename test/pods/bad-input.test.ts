// Bad input and faults through a real `berth daemon` over CRI: invalid sysctls, a user missing
// from the image, a missing mount source, names that are taken, unknown IDs, an unknown runtime
// handler, containers that crash at once, and a CNI plugin that fails. A failed call leaves the
// host as it was (compared before and after), and a retry with the same name succeeds.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { ContainerState, NamespaceMode } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import {
  execOk,
  expectCriError,
  type PodEnv,
  type PodInit,
  pidsWithCmdline,
  readLog,
  setUpAndTearDown,
  startPodEnv,
  waitFor,
  writeFailingPlugin,
} from '../support/pod-fixtures.ts';

const PORTMAP = { type: 'portmap', capabilities: { portMappings: true }, snat: true };
const UNKNOWN_ID = 'f'.repeat(64);

let env: PodEnv;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({ index: 2, extraBinDir: true });
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

/** A pod without an infra container (each container its own PID namespace). */
function pod(name: string, extra: PodInit = {}): PodInit {
  const linux: LinuxInit = {
    securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } },
    ...(extra.linux as LinuxInit | undefined),
  };
  return env.podConfig(name, { ...extra, linux });
}

/** The pods known by this name (any state). */
async function podsNamed(name: string): Promise<string[]> {
  return (await rt().listPodSandbox({})).items.filter((p) => p.metadata?.name === name).map((p) => p.id);
}

async function containersNamed(podId: string, name: string): Promise<string[]> {
  return (await rt().listContainers({ filter: { podSandboxId: podId } })).containers
    .filter((c) => c.metadata?.name === name)
    .map((c) => c.id);
}

async function removePod(podId: string): Promise<void> {
  await rt().stopPodSandbox({ podSandboxId: podId });
  await rt().removePodSandbox({ podSandboxId: podId });
}

describe('bad input and faults', { timeout: 120_000 }, () => {
  // Whatever a failed test left goes, so that it does not fail the next ones.
  afterEach(() => env.removeAllPods());

  test('an invalid sysctl is INVALID_ARGUMENT and leaves nothing; the retry with the same name succeeds', async () => {
    const before = await env.hostState();
    const cases: [string, Record<string, string>, RegExp][] = [
      ['node-wide', { 'vm.swappiness': '10' }, /not namespaced/],
      ['unknown', { 'net.ipv4.no_such_sysctl': '1' }, /sysctl/],
      ['bad value', { 'net.ipv4.ip_local_port_range': 'not numbers' }, /sysctl/],
      ['malformed', { 'net..ipv4': '1' }, /invalid sysctl/],
      ['newline in the value', { 'net.ipv4.ip_forward': '1\nkernel.hostname=x' }, /invalid value/],
    ];
    for (const [what, sysctls] of cases) {
      await expectCriError(env.runPod(pod('sysctl', { linux: { sysctls } })), 'INVALID_ARGUMENT').catch((e: Error) => {
        throw new Error(`${what}: ${e.message}`);
      });
      assert.deepEqual(await podsNamed('sysctl'), [], `${what}: no pod is listed`);
      assert.deepEqual(await env.hostState(), before, `${what}: nothing remains on the host`);
    }
    // A network sysctl for a pod on the host network would change the node.
    await expectCriError(
      env.runPod(
        env.podConfig('sysctl', {
          linux: {
            sysctls: { 'net.ipv4.ip_local_port_range': '20000 30000' },
            securityContext: { namespaceOptions: { network: NamespaceMode.NODE, pid: NamespaceMode.CONTAINER } },
          },
        }),
      ),
      'INVALID_ARGUMENT',
      /host network/,
    );
    assert.deepEqual(await env.hostState(), before);

    // Valid namespaced sysctls (network and IPC) are applied in the pod's namespaces.
    const config = pod('sysctl', { linux: { sysctls: { 'net.ipv4.ip_local_port_range': '20000 30000', 'kernel.shm_rmid_forced': '1' } } });
    const podId = await env.runPod(config);
    const c = await env.startContainer(podId, env.containerConfig('main'), config);
    assert.equal((await execOk(env, c, 'cat /proc/sys/net/ipv4/ip_local_port_range')).trim().split(/\s+/).join(' '), '20000 30000');
    assert.equal((await execOk(env, c, 'cat /proc/sys/kernel/shm_rmid_forced')).trim(), '1');
    assert.notEqual((await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).join(' '), '20000 30000');
    await removePod(podId);
    assert.deepEqual(await env.hostState(), before, 'nothing of the pod remains');
  });

  test('a user missing from the image: CreateContainer fails, nothing remains, the retry succeeds', async () => {
    const config = pod('users');
    const podId = await env.runPod(config);
    const before = await env.hostState();
    const error = await expectCriError(
      env.createContainer(
        podId,
        env.containerConfig('app', undefined, { linux: { securityContext: { runAsUsername: 'nosuchuser' } } }),
        config,
      ),
      'INVALID_ARGUMENT',
    );
    assert.match(error.message, /nosuchuser/);
    assert.deepEqual(await containersNamed(podId, 'app'), []);
    assert.deepEqual(await env.hostState(), before, 'nothing of the container remains');
    // A group missing from the image too.
    await expectCriError(
      env.createContainer(
        podId,
        env.containerConfig('app', undefined, { linux: { securityContext: { runAsUsername: 'app:nosuchgroup' } } }),
        config,
      ),
      'INVALID_ARGUMENT',
    );
    assert.deepEqual(await env.hostState(), before);

    // The same name with a user of the image works; so does a numeric uid the image does not list.
    const app = await env.startContainer(
      podId,
      env.containerConfig('app', undefined, { linux: { securityContext: { runAsUsername: 'app' } } }),
      config,
    );
    assert.equal((await execOk(env, app, 'id')).trim(), 'uid=1000(app) gid=1000(app) groups=1000(app)');
    const numeric = await env.startContainer(
      podId,
      env.containerConfig('numeric', undefined, { linux: { securityContext: { runAsUser: { value: 4321n } } } }),
      config,
    );
    assert.match(await execOk(env, numeric, 'id'), /^uid=4321 gid=0\(root\)/);
    await removePod(podId);
  });

  test('a missing mount source is created as a directory (as containerd does)', async () => {
    const config = pod('mounts');
    const podId = await env.runPod(config);
    const source = path.join(env.daemon.dir, 'volumes', 'not', 'there', 'yet');
    assert.ok(!existsSync(source));
    const c = await env.startContainer(
      podId,
      env.containerConfig('main', undefined, { mounts: [{ containerPath: '/data', hostPath: source }] }),
      config,
    );
    assert.ok((await stat(source)).isDirectory(), 'the daemon made the source directory');
    await execOk(env, c, 'echo from-the-container > /data/file');
    assert.equal(await readFile(path.join(source, 'file'), 'utf8'), 'from-the-container\n', 'the mount is a bind mount of it');
    // A source that exists but cannot be a directory (a path through a file) is refused.
    await expectCriError(
      env.createContainer(
        podId,
        env.containerConfig('through-file', undefined, {
          mounts: [{ containerPath: '/data', hostPath: path.join(source, 'file', 'below') }],
        }),
        config,
      ),
      'INVALID_ARGUMENT',
    );
    assert.deepEqual(await containersNamed(podId, 'through-file'), []);
    await removePod(podId);
  });

  test('a name that is taken is ALREADY_EXISTS, for pods and for containers; free again after removal', async () => {
    const config = pod('taken');
    const first = await env.runPod(config);
    const before = await env.hostState();
    await expectCriError(env.runPod(config), 'ALREADY_EXISTS');
    assert.deepEqual(await podsNamed('taken'), [first]);
    assert.deepEqual(await env.hostState(), before, 'the refused pod left nothing');
    // Another attempt of the same pod is another name, and so is another pod of the same name (another uid).
    const retry = await env.runPod(pod('taken', { metadata: { ...config.metadata, attempt: 1 } }));
    const second = await env.runPod(pod('taken', { metadata: { ...config.metadata, uid: 'uid-taken-other' } }));
    await removePod(retry);

    const c = await env.createContainer(first, env.containerConfig('main'), config);
    const withContainer = await env.hostState();
    await expectCriError(env.createContainer(first, env.containerConfig('main'), config), 'ALREADY_EXISTS');
    assert.deepEqual(await containersNamed(first, 'main'), [c]);
    assert.deepEqual(await env.hostState(), withContainer, 'the refused container left nothing');
    // The same container name in another pod, or with another attempt, is fine.
    await env.createContainer(second, env.containerConfig('main'));
    await env.createContainer(first, env.containerConfig('main', undefined, { metadata: { name: 'main', attempt: 1 } }), config);

    await rt().removeContainer({ containerId: c });
    const again = await env.createContainer(first, env.containerConfig('main'), config);
    assert.notEqual(again, c);
    await removePod(first);
    const retried = await env.runPod(config);
    assert.notEqual(retried, first);
    await removePod(retried);
    await removePod(second);
  });

  test('unknown IDs: NOT_FOUND for status, stop, start and the rest; remove is idempotent', async () => {
    await expectCriError(rt().podSandboxStatus({ podSandboxId: UNKNOWN_ID }), 'NOT_FOUND');
    await expectCriError(rt().stopPodSandbox({ podSandboxId: UNKNOWN_ID }), 'NOT_FOUND');
    await rt().removePodSandbox({ podSandboxId: UNKNOWN_ID });
    await expectCriError(rt().podSandboxStats({ podSandboxId: UNKNOWN_ID }), 'NOT_FOUND');
    await expectCriError(rt().createContainer({ podSandboxId: UNKNOWN_ID, config: env.containerConfig('x') }), 'NOT_FOUND');

    await expectCriError(rt().containerStatus({ containerId: UNKNOWN_ID }), 'NOT_FOUND');
    await expectCriError(rt().startContainer({ containerId: UNKNOWN_ID }), 'NOT_FOUND');
    await expectCriError(rt().stopContainer({ containerId: UNKNOWN_ID, timeout: 0n }), 'NOT_FOUND');
    await rt().removeContainer({ containerId: UNKNOWN_ID });
    await expectCriError(rt().execSync({ containerId: UNKNOWN_ID, cmd: ['true'], timeout: 5n }), 'NOT_FOUND');
    await expectCriError(rt().containerStats({ containerId: UNKNOWN_ID }), 'NOT_FOUND');
    await expectCriError(rt().reopenContainerLog({ containerId: UNKNOWN_ID }), 'NOT_FOUND');

    // Removed things are unknown too, and removing them again is fine.
    const config = pod('gone');
    const podId = await env.runPod(config);
    const c = await env.createContainer(podId, env.containerConfig('main'), config);
    await rt().removeContainer({ containerId: c });
    await rt().removeContainer({ containerId: c });
    await expectCriError(rt().containerStatus({ containerId: c }), 'NOT_FOUND');
    await removePod(podId);
    await rt().removePodSandbox({ podSandboxId: podId });
    await expectCriError(rt().podSandboxStatus({ podSandboxId: podId }), 'NOT_FOUND');
    await expectCriError(rt().stopPodSandbox({ podSandboxId: podId }), 'NOT_FOUND');

    // An empty ID is not an ID.
    await expectCriError(rt().containerStatus({ containerId: '' }), 'INVALID_ARGUMENT');
    await expectCriError(rt().podSandboxStatus({ podSandboxId: '' }), 'INVALID_ARGUMENT');
  });

  test('an unknown runtime handler is INVALID_ARGUMENT and leaves nothing', async () => {
    const before = await env.hostState();
    await expectCriError(env.runPod(pod('handler'), 'no-such-handler'), 'INVALID_ARGUMENT', /no-such-handler/);
    assert.deepEqual(await podsNamed('handler'), []);
    assert.deepEqual(await env.hostState(), before);
    const podId = await env.runPod(pod('handler'), 'runc');
    assert.equal((await rt().podSandboxStatus({ podSandboxId: podId })).status?.runtimeHandler, 'runc');
    await removePod(podId);
  });

  test('an image that is not on the node is NOT_FOUND at CreateContainer and leaves nothing', async () => {
    const config = pod('no-image');
    const podId = await env.runPod(config);
    const before = await env.hostState();
    await expectCriError(
      env.createContainer(
        podId,
        env.containerConfig('main', undefined, { image: { image: 'registry.pods.test/library/absent:1' } }),
        config,
      ),
      'NOT_FOUND',
    );
    assert.deepEqual(await env.hostState(), before);
    await removePod(podId);
  });

  test('containers that crash at once: a missing command is a StartError; an immediate exit is reported', async () => {
    const config = pod('crash');
    const podId = await env.runPod(config);
    const before = await env.hostState();

    const missing = await env.createContainer(podId, { ...env.containerConfig('missing'), command: ['/no/such/command'] }, config);
    const error = await rt()
      .startContainer({ containerId: missing })
      .then(
        () => undefined,
        (e: Error) => e,
      );
    assert.ok(error, 'StartContainer fails');
    assert.match(error.message, /no\/such\/command/);
    const { status: s } = await rt().containerStatus({ containerId: missing });
    assert.equal(s?.state, ContainerState.CONTAINER_EXITED);
    assert.equal(s?.reason, 'StartError');
    assert.equal(s?.exitCode, 128);
    assert.match(s?.message ?? '', /no\/such\/command/);
    assert.ok((s?.finishedAt ?? 0n) > 0n);
    assert.deepEqual(await pidsWithCmdline(missing), [], 'no conmon is left for it');
    await expectCriError(rt().startContainer({ containerId: missing }), 'FAILED_PRECONDITION');
    await rt().removeContainer({ containerId: missing });

    const notExecutable = await env.createContainer(podId, { ...env.containerConfig('not-executable'), command: ['/etc/passwd'] }, config);
    await assert.rejects(rt().startContainer({ containerId: notExecutable }), /permission denied/i);
    assert.equal((await rt().containerStatus({ containerId: notExecutable })).status?.reason, 'StartError');
    await rt().removeContainer({ containerId: notExecutable });
    assert.deepEqual(await env.hostState(), before, 'nothing of the failed starts remains');

    const quick = await env.startContainer(podId, env.containerConfig('quick', 'echo bye; exit 1'), config);
    const exited = await waitFor('the quick container to exit', async () => {
      const st = (await rt().containerStatus({ containerId: quick })).status;
      return st?.state === ContainerState.CONTAINER_EXITED ? st : undefined;
    });
    assert.equal(exited.exitCode, 1);
    assert.equal(exited.reason, 'Error');
    assert.ok((await readLog(exited.logPath)).some((l) => l.text === 'bye'));
    // However quick the exit, it is never reported before the start.
    for (let i = 0; i < 6; i++) {
      const id = await env.startContainer(podId, env.containerConfig(`instant-${i}`, 'exit 0'), config);
      const st = await waitFor('the instant container to exit', async () => {
        const x = (await rt().containerStatus({ containerId: id })).status;
        return x?.state === ContainerState.CONTAINER_EXITED ? x : undefined;
      });
      assert.ok(st.startedAt > 0n && st.finishedAt >= st.startedAt, `finished ${st.finishedAt} is not before started ${st.startedAt}`);
      assert.equal(st.reason, 'Completed');
    }
    await removePod(podId);
  });

  test('a CNI plugin that fails: RunPodSandbox fails, nothing remains, and after the fix the retry succeeds', async () => {
    assert.ok(env.net.binDir);
    await writeFailingPlugin(env.net.binDir, 'berth-test-fail');
    const config = pod('cni', { portMappings: [{ containerPort: 80, hostPort: 38080, hostIp: '127.0.0.1' }] });
    // A pod with an infra container too: its undo must run as well.
    const shared = env.podConfig('cni-shared', { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.POD } } } });
    const before = await env.hostState();
    const ipsBefore = await env.ipAllocations();
    await env.writeConflist([PORTMAP, { type: 'berth-test-fail' }]);
    try {
      for (const c of [config, shared]) {
        const error = await rt()
          .runPodSandbox({ config: c })
          .then(
            (r) => {
              env.podIds.add(r.podSandboxId);
              return undefined;
            },
            (e: Error) => e,
          );
        assert.ok(error, 'RunPodSandbox fails');
        assert.match(error.message, /the test plugin refuses ADD/);
        assert.deepEqual(await podsNamed(c.metadata?.name ?? ''), []);
        const after = await env.hostState();
        assert.deepEqual(after, before, 'no netns, veth, IP allocation, mount, cache record or process remains');
        assert.deepEqual(await env.ipAllocations(), ipsBefore);
      }
    } finally {
      await env.writeConflist([PORTMAP]);
    }
    for (const c of [config, shared]) {
      const podId = await env.runPod(c);
      const ip = (await rt().podSandboxStatus({ podSandboxId: podId })).status?.network?.ip ?? '';
      assert.ok(ip.startsWith(env.net.prefix), `the retry got an IP (${ip})`);
      await removePod(podId);
    }
    assert.deepEqual(await env.hostState(), before);
  });
});
