// Faults and attacks on a running daemon, each with the real parts: ExecSync of more output than
// a gRPC message holds, a command that leaves a child in the background, a container that targets
// another pod's PID namespace, and what a crash or a corrupt store leaves for the next start.
import assert from 'node:assert/strict';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { NamespaceMode, SecurityProfile_ProfileType } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { EXEC_SYNC_MAX_OUTPUT, truncationMarker } from '../../src/services/container-exec-sync.ts';
import { readSnapshots } from '../image/support.ts';
import { allMountPoints, expectCriError, type PodEnv, pidsWithCmdline, setUpAndTearDown, startPodEnv } from '../support/pod-fixtures.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';

let env: PodEnv;
let profiles: TempDir;

setUpAndTearDown(
  async () => {
    profiles = await makeTempDir('berth-seccomp-');
    env = await startPodEnv({
      index: 156,
      subnetPrefix: '10.156.156.',
      extraConfig: `seccomp_profile_root = ${JSON.stringify(profiles.path)}`,
    });
  },
  async () => {
    if (env === undefined) return;
    const forced = await env.cleanUp();
    assert.deepEqual(
      forced.filter((f) => !f.endsWith('/state/ns')),
      [],
      'cleanup found nothing to remove by force',
    );
    await profiles?.remove();
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

describe('namespaces', () => {
  test('a container may target only a PID namespace of its own pod', async () => {
    const a = await sleeper('pid-owner');
    const otherPod = await env.runPod(env.podConfig('pid-intruder', hostNetwork));
    const targeting = env.containerConfig('intruder', undefined, {
      linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.TARGET, targetId: a.container } } },
    });
    const before = await env.hostState();
    const error = await expectCriError(
      env.createContainer(otherPod, targeting, env.podConfig('pid-intruder', hostNetwork)),
      'INVALID_ARGUMENT',
    );
    assert.equal(error.code, 'target-other-pod');
    assert.deepEqual(await env.hostState(), before, 'the refused create left nothing');
    // In its own pod the same target is fine.
    const sibling = await env.startContainer(a.pod, targeting, env.podConfig('pid-owner', hostNetwork));
    const ps = await rt().execSync({ containerId: sibling, cmd: ['/bin/sh', '-c', 'cat /proc/1/cmdline | tr "\\0" " "'], timeout: 10n });
    assert.match(Buffer.from(ps.stdout).toString(), /sleep/);
  });
});

describe('after a crash', () => {
  test('corrupt metadata rows are quarantined, and a snapshot of an unfinished create is reclaimed', async () => {
    const pod = await env.runPod(env.podConfig('crash', hostNetwork));
    const orphan = await env.createContainer(pod, env.containerConfig('orphan'), env.podConfig('crash', hostNetwork));
    const kept = await env.startContainer(pod, env.containerConfig('kept'), env.podConfig('crash', hostNetwork));
    await env.daemon.kill9();
    const db = new DatabaseSync(path.join(env.daemon.root, 'metadata.db'));
    // As if the daemon had died inside CreateContainer: the snapshot and bundle, but no record.
    db.prepare("DELETE FROM objects WHERE kind = 'container' AND id = ?").run(orphan);
    const insert = db.prepare('INSERT INTO objects (kind, id, data) VALUES (?, ?, ?)');
    insert.run('container', 'f'.repeat(64), '{"id": "truncated');
    insert.run('container', 'e'.repeat(64), 'null');
    insert.run('container', 'd'.repeat(64), JSON.stringify({ id: 'd'.repeat(64), sandboxId: pod, state: 'running' }));
    insert.run('sandbox', 'c'.repeat(64), '[1, 2]');
    db.close();
    env.containerIds.delete(orphan);
    await env.daemon.restart();

    const listed = (await rt().listContainers({})).containers.map((c) => c.id);
    assert.ok(listed.includes(kept), 'the good container is listed');
    assert.ok(!listed.includes(orphan) && !listed.includes('d'.repeat(64)));
    assert.ok((await rt().listPodSandbox({})).items.some((p) => p.id === pod));
    const quarantined = env.daemon.logEntries().filter((e) => e['msg'] === 'corrupt metadata row moved to the quarantine table');
    assert.deepEqual(quarantined.map((e) => e['id']).sort(), ['c'.repeat(64), 'd'.repeat(64), 'e'.repeat(64), 'f'.repeat(64)]);
    const snapshots = await readSnapshots(env.daemon.root);
    assert.ok(!snapshots.some((s) => s.key === `container-${orphan}`), 'the orphaned snapshot is gone');
    assert.ok(snapshots.some((s) => s.key === `container-${kept}`));
    assert.ok(!(await allMountPoints()).some((m) => m.includes(orphan)), 'its rootfs mount is gone');
    assert.equal(Buffer.from((await rt().execSync({ containerId: kept, cmd: ['echo', 'ok'], timeout: 10n })).stdout).toString(), 'ok\n');
  });
});

describe('seccomp', () => {
  test('a relative localhost/ profile resolves under the profile root, and no file outside it is read', async () => {
    const allowAll = JSON.stringify({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [] });
    await mkdir(path.join(profiles.path, 'team'));
    await writeFile(path.join(profiles.path, 'team', 'allow.json'), allowAll);
    const outside = path.join(path.dirname(profiles.path), `${path.basename(profiles.path)}-outside.json`);
    await writeFile(outside, allowAll);
    await symlink(outside, path.join(profiles.path, 'escape.json'));
    const pod = await env.runPod(env.podConfig('seccomp', hostNetwork));
    const withProfile = (ref: string) =>
      env.containerConfig(`c-${Math.random().toString(36).slice(2, 8)}`, undefined, {
        linux: { securityContext: { seccomp: { profileType: SecurityProfile_ProfileType.Localhost, localhostRef: ref } } },
      });
    try {
      const ok = await env.startContainer(pod, withProfile('team/allow.json'), env.podConfig('seccomp', hostNetwork));
      const status = await rt().containerStatus({ containerId: ok, verbose: true });
      const spec = (JSON.parse(status.info.info ?? '{}') as { runtimeSpec?: { linux?: { seccomp?: { defaultAction?: string } } } })
        .runtimeSpec;
      assert.equal(spec?.linux?.seccomp?.defaultAction, 'SCMP_ACT_ALLOW', 'the profile from the root is used');
      const before = await env.hostState();
      for (const ref of [`../${path.basename(outside)}`, 'escape.json', 'team/../../x.json', 'missing.json']) {
        const error = await expectCriError(
          env.createContainer(pod, withProfile(ref), env.podConfig('seccomp', hostNetwork)),
          'INVALID_ARGUMENT',
        );
        assert.equal(error.code, 'invalid-seccomp-profile', ref);
      }
      assert.deepEqual(await env.hostState(), before, 'the refused creates left nothing');
    } finally {
      await rm(outside, { force: true });
    }
  });
});
