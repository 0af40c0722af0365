import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/support/tmp.ts';
import { isBerthError } from '../../errors/errors.ts';
import type { LinuxSeccomp } from '../../oci/runtime-spec.ts';
import { DEFAULT_CAPABILITIES } from './defaults.ts';
import { chooseSeccomp, loadLocalhostSeccompProfile, parseSeccompProfile, profileFromLegacyPath } from './seccomp.ts';
import { CLONE_NAMESPACE_FLAGS, DEFAULT_ALLOWED_SYSCALLS, defaultSeccompProfile } from './seccomp-default.ts';

const allowed = (p: LinuxSeccomp): Set<string> =>
  new Set((p.syscalls ?? []).filter((s) => s.action === 'SCMP_ACT_ALLOW' && (s.args ?? []).length === 0).flatMap((s) => s.names));

test('the default profile refuses with EPERM and allows the usual calls', () => {
  const p = defaultSeccompProfile({ capabilities: DEFAULT_CAPABILITIES, arch: 'x64' });
  // Valid JSON, round trip.
  const json = JSON.parse(JSON.stringify(p)) as LinuxSeccomp;
  assert.deepEqual(json, p);
  assert.deepEqual(parseSeccompProfile(JSON.stringify(p)), p);
  assert.equal(p.defaultAction, 'SCMP_ACT_ERRNO');
  assert.equal(p.defaultErrnoRet, 1);
  assert.deepEqual(p.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const a = allowed(p);
  for (const name of ['read', 'write', 'openat', 'execve', 'exit_group', 'futex', 'epoll_wait', 'arch_prctl', 'ptrace', 'chroot']) {
    assert.ok(a.has(name), `${name} allowed`);
  }
  // Only with capabilities the container does not hold.
  for (const name of ['mount', 'umount2', 'unshare', 'setns', 'sethostname', 'reboot', 'init_module', 'bpf', 'acct', 'settimeofday']) {
    assert.ok(!a.has(name), `${name} not allowed`);
  }
  // No duplicates in the base list; names look like names.
  assert.equal(new Set(DEFAULT_ALLOWED_SYSCALLS).size, DEFAULT_ALLOWED_SYSCALLS.length);
  assert.ok(DEFAULT_ALLOWED_SYSCALLS.every((n) => /^_?[a-z0-9_]+$/.test(n)));
  assert.ok(DEFAULT_ALLOWED_SYSCALLS.length > 300);
});

test('the default profile restricts clone, clone3, personality and socket by argument', () => {
  const p = defaultSeccompProfile({ capabilities: DEFAULT_CAPABILITIES, arch: 'x64' });
  const rules = p.syscalls ?? [];
  const clone = rules.find((r) => r.names.includes('clone'))!;
  assert.deepEqual(clone.args, [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
  assert.equal(CLONE_NAMESPACE_FLAGS, 0x7e020000);
  const clone3 = rules.find((r) => r.names.includes('clone3'))!;
  assert.deepEqual([clone3.action, clone3.errnoRet], ['SCMP_ACT_ERRNO', 38]);
  const personas = rules.filter((r) => r.names.includes('personality')).map((r) => r.args![0]!.value);
  assert.deepEqual(personas, [0, 8, 0x20000, 0x20008, 0xffffffff]);
  const socket = rules.filter((r) => r.names.includes('socket')).map((r) => `${r.args![0]!.op} ${r.args![0]!.value}`);
  assert.deepEqual(socket, ['SCMP_CMP_LT 38', 'SCMP_CMP_EQ 39', 'SCMP_CMP_GT 40']);
  // On s390x the clone flags are the second argument.
  const s390 = defaultSeccompProfile({ capabilities: [], arch: 's390x' });
  assert.equal((s390.syscalls ?? []).find((r) => r.names.includes('clone'))!.args![0]!.index, 1);
});

test('capabilities unlock their calls; CAP_SYS_ADMIN lifts the clone restriction', () => {
  const admin = defaultSeccompProfile({
    capabilities: [...DEFAULT_CAPABILITIES, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_MODULE', 'CAP_SYS_BOOT'],
    arch: 'x64',
  });
  const a = allowed(admin);
  for (const name of ['mount', 'umount2', 'unshare', 'setns', 'sethostname', 'clone', 'clone3', 'kcmp', 'init_module', 'reboot']) {
    assert.ok(a.has(name), `${name} allowed with capabilities`);
  }
  assert.ok(!(admin.syscalls ?? []).some((r) => r.names.includes('clone3') && r.action === 'SCMP_ACT_ERRNO'));
  assert.ok(!(admin.syscalls ?? []).some((r) => r.names.includes('clone') && r.args !== undefined));
  // Without CAP_SYS_CHROOT no chroot.
  assert.ok(!allowed(defaultSeccompProfile({ capabilities: [], arch: 'x64' })).has('chroot'));
});

test('architectures and kernel version', () => {
  const arm = defaultSeccompProfile({ capabilities: [], arch: 'arm64' });
  assert.deepEqual(arm.architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
  assert.ok(allowed(arm).has('set_tls'));
  assert.ok(!allowed(arm).has('arch_prctl'));
  assert.ok(!allowed(defaultSeccompProfile({ capabilities: [], arch: 'x64', kernelRelease: '4.4.0-generic' })).has('ptrace'));
  assert.ok(allowed(defaultSeccompProfile({ capabilities: [], arch: 'x64', kernelRelease: '6.1.0-18-amd64' })).has('ptrace'));
});

test('legacy profile strings', () => {
  assert.equal(profileFromLegacyPath(''), undefined);
  assert.deepEqual(profileFromLegacyPath('runtime/default'), { type: 'runtime-default' });
  assert.deepEqual(profileFromLegacyPath('docker/default'), { type: 'runtime-default' });
  assert.deepEqual(profileFromLegacyPath('unconfined'), { type: 'unconfined' });
  assert.deepEqual(profileFromLegacyPath('localhost//etc/p.json'), { type: 'localhost', ref: '/etc/p.json' });
  assert.throws(
    () => profileFromLegacyPath('/etc/p.json'),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test('choosing: privileged and unconfined get none, RuntimeDefault the built-in, Localhost the file', async () => {
  await using dir = await makeTempDir();
  const caps = DEFAULT_CAPABILITIES;
  assert.equal(await chooseSeccomp({ profile: undefined, privileged: false, capabilities: caps }), undefined);
  assert.equal(await chooseSeccomp({ profile: { type: 'unconfined' }, privileged: false, capabilities: caps }), undefined);
  assert.equal(await chooseSeccomp({ profile: { type: 'runtime-default' }, privileged: true, capabilities: caps }), undefined);
  const def = await chooseSeccomp({ profile: { type: 'runtime-default' }, privileged: false, capabilities: caps });
  assert.equal(def?.defaultAction, 'SCMP_ACT_ERRNO');
  await assert.rejects(
    chooseSeccomp({ profile: { type: 'runtime-default' }, privileged: false, capabilities: caps, seccompEnabled: false }),
    (e) => isBerthError(e, 'failed-precondition'),
  );

  const file = join(dir.path, 'block-chmod.json');
  const profile = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO' }] };
  await writeFile(file, JSON.stringify(profile));
  assert.deepEqual(await chooseSeccomp({ profile: { type: 'localhost', ref: file }, privileged: false, capabilities: caps }), profile);
  assert.deepEqual(
    await chooseSeccomp({ profile: { type: 'localhost', ref: `localhost/${file}` }, privileged: false, capabilities: caps }),
    profile,
  );
});

test('a bad Localhost profile is an invalid-argument error', async () => {
  await using dir = await makeTempDir();
  const bad = async (text: string, why: RegExp): Promise<void> => {
    const f = join(dir.path, 'p.json');
    await writeFile(f, text);
    await assert.rejects(loadLocalhostSeccompProfile(f), (e) => isBerthError(e, 'invalid-argument') && why.test(e.message));
  };
  await assert.rejects(
    loadLocalhostSeccompProfile('relative.json', join(dir.path, 'no-such-root')),
    (e) => isBerthError(e, 'invalid-argument') && /cannot read/.test(e.message),
  );
  await assert.rejects(
    loadLocalhostSeccompProfile(join(dir.path, 'missing.json')),
    (e) => isBerthError(e, 'invalid-argument') && /cannot read/.test(e.message),
  );
  await bad('{not json', /not JSON/);
  await bad('[]', /not a JSON object/);
  await bad('{"defaultAction":"SCMP_ACT_NOPE"}', /defaultAction/);
  await bad('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]}', /names/);
  await bad('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["x"],"action":"BAD"}]}', /unknown action/);
});
