// Faults and attacks on a running daemon, each with the real parts: ExecSync of more output than
// a gRPC message holds, a command that leaves a child in the background, a container that targets
// another pod's PID namespace, and what a crash or a corrupt store leaves for the next start.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NamespaceMode } from '../../src/cri/gen/runtime/v1/api_pb.js';
import { EXEC_SYNC_MAX_OUTPUT, truncationMarker } from '../../src/services/container-exec-sync.ts';
import { expectCriError, type PodEnv, pidsWithCmdline, setUpAndTearDown, startPodEnv } from '../support/pod-fixtures.ts';

let env: PodEnv;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({ index: 156, subnetBase: '10.156' });
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

const rt = () => env.cri.runtime;
const hostNetwork = { linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } } };

async function sleeper(name: string): Promise<{ pod: string; container: string }> {
  const pod = await env.runPod(env.podConfig(name, hostNetwork));
  const container = await env.startContainer(pod, env.containerConfig('main'), env.podConfig(name, hostNetwork));
  return { pod, container };
}

describe('ExecSync', () => {
  test('more output than a gRPC message holds: capped below the limit and marked truncated', async () => {
    const { container } = await sleeper('exec-big');
    const r = await rt().execSync({
      containerId: container,
      cmd: ['/bin/sh', '-c', 'yes | head -c 20000000; yes e | head -c 20000000 >&2'],
      timeout: 60n,
    });
    assert.equal(r.exitCode, 0);
    const marker = (s: 'stdout' | 'stderr') => Buffer.from(truncationMarker(s));
    assert.equal(r.stdout.length, EXEC_SYNC_MAX_OUTPUT + marker('stdout').length);
    assert.ok(Buffer.from(r.stdout).subarray(-marker('stdout').length).equals(marker('stdout')), 'stdout ends with the marker');
    assert.ok(Buffer.from(r.stderr).subarray(-marker('stderr').length).equals(marker('stderr')), 'stderr ends with the marker');
    assert.ok(r.stdout.length + r.stderr.length < 16 * 1024 * 1024, 'the reply fits in one gRPC message');
    const small = await rt().execSync({ containerId: container, cmd: ['echo', 'small'], timeout: 10n });
    assert.equal(Buffer.from(small.stdout).toString(), 'small\n', 'whole output is not marked');
  });

  test('a background child: the call returns with the output, and the child is ended', async () => {
    const { container } = await sleeper('exec-bg');
    const marker = `${1000 + Math.floor(Math.random() * 8000)}`;
    for (const timeout of [0n, 30n]) {
      const r = await rt().execSync({ containerId: container, cmd: ['/bin/sh', '-c', `sleep ${marker} & echo hi`], timeout });
      assert.equal(r.exitCode, 0);
      assert.equal(Buffer.from(r.stdout).toString(), 'hi\n');
      assert.deepEqual(await pidsWithCmdline(`sleep ${marker}`), [], `the background sleep is gone (timeout ${timeout})`);
    }
    await expectCriError(
      rt().execSync({ containerId: container, cmd: ['/bin/sh', '-c', `sleep ${marker} & sleep ${marker}`], timeout: 1n }),
      'DEADLINE_EXCEEDED',
    );
    assert.deepEqual(await pidsWithCmdline(`sleep ${marker}`), [], 'both sleeps are gone after the timeout');
  });
});
