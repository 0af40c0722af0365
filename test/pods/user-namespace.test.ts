// Pods in a user namespace through a real `berth daemon` over CRI (pods on 10.157.0.0/24): mode
// POD with a 0→100000 mapping runs the container in a user namespace of its own (its uid_map, and
// uid 100000 as the host sees it), reported in RuntimeHandlerFeatures; what cannot be honoured is
// INVALID_ARGUMENT and leaves nothing, never a pod in the node's user namespace.
import assert from 'node:assert/strict';
import { chmod, readFile } from 'node:fs/promises';
import { afterEach, describe, test } from 'node:test';
import { NamespaceMode } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import {
  expectCriError,
  type PodEnv,
  type PodInit,
  pidsWithCmdline,
  setUpAndTearDown,
  startPodEnv,
  waitFor,
  waitForLog,
} from '../support/pod-fixtures.ts';

let env: PodEnv;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({ index: 157, subnetPrefix: '10.157.0.' });
  },
  async () => {
    if (env === undefined) return;
    const forced = await env.cleanUp();
    assert.deepEqual(
      forced.filter((f) => !f.endsWith('/state/ns')),
      [],
      'cleanup found nothing to remove by force',
    );
  },
);

const MAPPING = [{ hostId: 100000, containerId: 0, length: 65536 }];
type LinuxInit = Extract<NonNullable<PodInit['linux']>, { $typeName?: undefined }>;
type NamespaceInit = NonNullable<NonNullable<LinuxInit['securityContext']>['namespaceOptions']>;

function namespaces(extra: Partial<NamespaceInit> = {}, mode = NamespaceMode.POD): NamespaceInit {
  return { pid: NamespaceMode.CONTAINER, usernsOptions: { mode, uids: MAPPING, gids: MAPPING }, ...extra } as NamespaceInit;
}

function pod(name: string, ns: NamespaceInit): PodInit {
  return env.podConfig(name, { linux: { securityContext: { namespaceOptions: ns } } });
}

describe('user namespaces', { timeout: 120_000 }, () => {
  afterEach(() => env.removeAllPods());

  test('RuntimeHandlerFeatures report user namespaces', async () => {
    const status = await env.cri.runtime.status({});
    assert.ok(status.runtimeHandlers.length > 0);
    for (const h of status.runtimeHandlers) assert.equal(h.features?.userNamespaces, true, h.name);
  });

  test('mode POD with a 0→100000 mapping: the container reads 0 100000 65536 and runs as uid 100000 on the host', async () => {
    const config = pod('userns', namespaces());
    const podId = await env.runPod(config);
    const script = 'busybox cat /proc/self/uid_map /proc/self/gid_map; busybox id -u; busybox stat -c %u:%g /; exec busybox sleep 4157';
    const container = env.containerConfig('main', script, { linux: { securityContext: { namespaceOptions: namespaces() } } });
    // The daemon's temp dir is 0700: the container's root could not reach its bundle, and says so.
    await chmod(env.daemon.dir, 0o700);
    await expectCriError(env.createContainer(podId, container, config), 'FAILED_PRECONDITION', /is not searchable by others/);
    await chmod(env.daemon.dir, 0o711);
    const id = await env.startContainer(podId, container, config);
    const status = await env.cri.runtime.containerStatus({ containerId: id });
    const lines = (await waitForLog(status.status!.logPath, '0:0')).map((l) => l.text.trim().split(/\s+/).join(' '));
    assert.deepEqual(lines, ['0 100000 65536', '0 100000 65536', '0', '0:0']);
    const [pid] = await waitFor('the container process', async () => {
      const pids = await pidsWithCmdline('sleep 4157');
      return pids.length > 0 ? pids : undefined;
    });
    const uids = /^Uid:\s+(.*)$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1]?.split(/\s+/);
    assert.deepEqual(uids, ['100000', '100000', '100000', '100000']);
  });

  test('what cannot be honoured is INVALID_ARGUMENT and leaves nothing', async () => {
    const before = await env.hostState();
    await expectCriError(
      env.runPod(pod('shared-pid', namespaces({ pid: NamespaceMode.POD }))),
      'INVALID_ARGUMENT',
      /share one PID namespace/,
    );
    await expectCriError(
      env.runPod(pod('host-net', namespaces({ network: NamespaceMode.NODE }))),
      'INVALID_ARGUMENT',
      /node's network namespace/,
    );
    const config = pod('mode-container', namespaces());
    const podId = await env.runPod(config);
    const container = env.containerConfig('main', 'true', {
      linux: { securityContext: { namespaceOptions: namespaces({}, NamespaceMode.CONTAINER) } },
    });
    await expectCriError(env.createContainer(podId, container, config), 'INVALID_ARGUMENT', /mode CONTAINER is not supported/);
    const noMapping = env.containerConfig('main', 'true', {
      linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER, usernsOptions: { mode: NamespaceMode.POD } } } },
    });
    await expectCriError(env.createContainer(podId, noMapping, config), 'INVALID_ARGUMENT', /needs uid mappings/);
    await env.cri.runtime.stopPodSandbox({ podSandboxId: podId });
    await env.cri.runtime.removePodSandbox({ podSandboxId: podId });
    assert.deepEqual(await env.hostState(), before);
  });
});
