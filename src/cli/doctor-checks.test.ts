// berth doctor's verdicts on prepared /proc, /sys and /dev trees, and on real tools.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { makeTempDir } from '../../test/support/tmp.ts';
import { defaultConfig } from '../config/config.ts';
import { type HostPaths, kernelChecks, toolChecks, versionOf } from './doctor-checks.ts';

const run = promisify(execFile);

async function tree(root: string, files: Record<string, string>): Promise<HostPaths> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
  return { proc: path.join(root, 'proc'), sys: path.join(root, 'sys'), dev: path.join(root, 'dev'), run: path.join(root, 'run') };
}

const verdicts = (findings: { check: string; verdict: string }[]) => Object.fromEntries(findings.map((f) => [f.check, f.verdict]));

test('a v2 node with AppArmor, seccomp, user namespaces, KVM and vsock passes every kernel check', async () => {
  await using dir = await makeTempDir('berth-doctor-');
  const h = await tree(dir.path, {
    'proc/filesystems': 'nodev\tsysfs\nnodev\toverlay\n',
    'proc/self/status': 'Name:\tx\nSeccomp:\t0\n',
    'proc/sys/user/max_user_namespaces': '1000\n',
    'sys/fs/cgroup/cgroup.controllers': 'cpu memory pids\n',
    'sys/module/apparmor/parameters/enabled': 'Y\n',
    'dev/kvm': '',
    'dev/vhost-vsock': '',
  });
  assert.deepEqual(verdicts(await kernelChecks(h)), {
    overlayfs: 'ok',
    cgroups: 'ok',
    AppArmor: 'ok',
    seccomp: 'ok',
    'user namespaces': 'ok',
    KVM: 'ok',
    'vhost-vsock': 'ok',
  });
});

test('what this kind of test machine lacks is named: hybrid cgroups, AppArmor off, no vhost-vsock; no overlay or seccomp fails', async () => {
  await using dir = await makeTempDir('berth-doctor-');
  const h = await tree(dir.path, {
    'proc/filesystems': 'nodev\tsysfs\n',
    'proc/self/status': 'Name:\tx\n',
    'proc/sys/user/max_user_namespaces': '0\n',
    'sys/fs/cgroup/unified/cgroup.controllers': '',
    'sys/fs/cgroup/memory/tasks': '',
  });
  const findings = await kernelChecks(h);
  assert.deepEqual(verdicts(findings), {
    overlayfs: 'fail',
    cgroups: 'warn',
    AppArmor: 'warn',
    seccomp: 'fail',
    'user namespaces': 'warn',
    KVM: 'warn',
    'vhost-vsock': 'warn',
  });
  assert.match(findings.find((f) => f.check === 'cgroups')!.detail, /hybrid/);
});

test('runc older than 1.1.12 and not patched by its package fails; a missing runtime binary fails', async () => {
  await using dir = await makeTempDir('berth-doctor-');
  const old = path.join(dir.path, 'old-runc');
  await writeFile(old, '#!/bin/sh\necho "runc version 1.1.4"\n');
  await chmod(old, 0o755);
  const config = { ...defaultConfig(), runtimes: { runc: { binary: old }, gone: { binary: path.join(dir.path, 'nothing') } } };
  const findings = await toolChecks(config);
  assert.match(findings.find((f) => f.check === 'runtime runc')!.detail, /CVE-2024-21626/);
  assert.equal(verdicts(findings)['runtime runc'], 'fail');
  assert.equal(verdicts(findings)['runtime gone'], 'warn');
  assert.deepEqual(versionOf('runc version 1.1.5+ds1'), [1, 1, 5]);
});

test("Debian's runc 1.1.5 with the CVE-2024-21626 fix backported passes", async () => {
  const findings = await toolChecks(defaultConfig());
  assert.equal(verdicts(findings)['runtime runc'], 'ok', JSON.stringify(findings));
  assert.equal(verdicts(findings).conmon, 'ok');
});

test('berth doctor exits 1 and names the problem when the config is bad', async () => {
  await using dir = await makeTempDir('berth-doctor-');
  const file = path.join(dir.path, 'config.toml');
  await writeFile(file, 'no_such_key = 1\n');
  const bin = path.resolve(import.meta.dirname, '../../bin/berth');
  const failed = await run(bin, ['doctor', '--config', file]).then(
    () => undefined,
    (e: { code: number; stdout: string }) => e,
  );
  assert.equal(failed?.code, 1);
  assert.match(failed!.stdout, /✘ config +.*no_such_key: unknown key/);
  assert.match(failed!.stdout, /1 problem\(s\)/);
});
