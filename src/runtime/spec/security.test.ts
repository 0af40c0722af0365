import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { chooseAppArmorProfile, DEFAULT_APPARMOR_PROFILE } from './apparmor.ts';
import { KNOWN_CAPABILITIES } from './capabilities.ts';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from './defaults.ts';
import { checkRunAsNonRoot, containerSecurity } from './security.ts';

test('an unprivileged container: default caps, default masked and read-only paths', () => {
  const s = containerSecurity(undefined, false);
  assert.equal(s.privileged, false);
  assert.equal(s.capabilities.inheritable, undefined);
  assert.equal(s.capabilities.ambient, undefined);
  assert.deepEqual(s.capabilities, {
    bounding: [...DEFAULT_CAPABILITIES],
    effective: [...DEFAULT_CAPABILITIES],
    permitted: [...DEFAULT_CAPABILITIES],
  });
  assert.deepEqual(s.maskedPaths, [...DEFAULT_MASKED_PATHS]);
  assert.deepEqual(s.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
  assert.ok(s.maskedPaths.includes('/proc/kcore'));
  assert.ok(s.readonlyPaths.includes('/proc/sys'));
  assert.equal(s.noNewPrivileges, false);
  assert.equal(s.readonlyRootfs, false);
});

test('masked and read-only paths from the request replace the defaults, even when empty', () => {
  const s = containerSecurity({ maskedPaths: ['/bin/ls'], readonlyPaths: ['/tmp'] }, false);
  assert.deepEqual(s.maskedPaths, ['/bin/ls']);
  assert.deepEqual(s.readonlyPaths, ['/tmp']);
  const none = containerSecurity({ maskedPaths: [], readonlyPaths: [] }, false);
  assert.deepEqual([none.maskedPaths, none.readonlyPaths], [[], []]);
});

test('no_new_privs and read-only root', () => {
  const s = containerSecurity({ noNewPrivs: true, readonlyRootfs: true }, false);
  assert.equal(s.noNewPrivileges, true);
  assert.equal(s.readonlyRootfs, true);
});

test('capabilities add and drop', () => {
  const s = containerSecurity({ capabilities: { addCapabilities: ['SYS_ADMIN'], dropCapabilities: ['NET_RAW'] } }, false);
  assert.ok(s.bounding.includes('CAP_SYS_ADMIN'));
  assert.ok(!s.bounding.includes('CAP_NET_RAW'));
  assert.deepEqual(s.capabilities.effective, s.bounding);
  const none = containerSecurity({ capabilities: { dropCapabilities: ['ALL'] } }, false);
  assert.deepEqual(none.bounding, []);
  const all = containerSecurity({ capabilities: { addCapabilities: ['ALL'] } }, false, ['CAP_CHOWN', 'CAP_BPF']);
  assert.deepEqual(all.bounding, ['CAP_CHOWN', 'CAP_BPF']);
  assert.throws(
    () => containerSecurity({ capabilities: { addAmbientCapabilities: ['NET_ADMIN'] } }, false),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test('privileged: every capability the daemon holds, nothing masked, needs a privileged pod', () => {
  const mine = KNOWN_CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE');
  const s = containerSecurity({ privileged: true, capabilities: { dropCapabilities: ['ALL'] }, maskedPaths: ['/x'] }, true, mine);
  assert.equal(s.privileged, true);
  assert.deepEqual(s.bounding, mine);
  assert.deepEqual(s.maskedPaths, []);
  assert.deepEqual(s.readonlyPaths, []);
  assert.throws(
    () => containerSecurity({ privileged: true }, false),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'privileged-not-allowed',
  );
});

test('run as non-root refuses uid 0', () => {
  checkRunAsNonRoot(true, 1000, '1000');
  checkRunAsNonRoot(false, 0, '');
  checkRunAsNonRoot(undefined, 0, '');
  assert.throws(
    () => checkRunAsNonRoot(true, 0, 'root'),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'run-as-root',
  );
});

test('AppArmor follows containerd: disabled refuses profiles, enabled picks one', () => {
  assert.equal(chooseAppArmorProfile(undefined, false, false), undefined);
  assert.equal(chooseAppArmorProfile({ type: 'unconfined' }, false, false), undefined);
  assert.throws(
    () => chooseAppArmorProfile({ type: 'runtime-default' }, false, false),
    (e) => isBerthError(e, 'failed-precondition'),
  );
  assert.throws(
    () => chooseAppArmorProfile({ type: 'localhost', ref: 'mine' }, false, false),
    (e) => isBerthError(e, 'failed-precondition'),
  );
  assert.equal(chooseAppArmorProfile(undefined, false, true), DEFAULT_APPARMOR_PROFILE);
  assert.equal(chooseAppArmorProfile({ type: 'runtime-default' }, true, true), undefined);
  assert.equal(chooseAppArmorProfile({ type: 'unconfined' }, false, true), undefined);
  assert.equal(chooseAppArmorProfile({ type: 'localhost', ref: 'localhost/mine' }, false, true), 'mine');
});
