import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import {
  applyCapabilityChanges,
  boundingCapabilitiesFromStatus,
  capabilitiesFromMask,
  KNOWN_CAPABILITIES,
  normalizeCapability,
  parseCapability,
} from './capabilities.ts';
import { DEFAULT_CAPABILITIES } from './defaults.ts';

test('capability names are case-insensitive, with or without CAP_', () => {
  assert.equal(normalizeCapability('net_admin'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCapability('NET_ADMIN'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCapability('cap_net_admin'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCapability('CAP_NET_ADMIN'), 'CAP_NET_ADMIN');
  assert.equal(normalizeCapability('all'), 'ALL');
  assert.equal(parseCapability('sys_admin'), 'CAP_SYS_ADMIN');
  assert.throws(
    () => parseCapability('NOT_A_CAP'),
    (e) => isBerthError(e, 'invalid-argument') && /unknown capability/.test(e.message),
  );
});

test('the known list is indexed by capability number', () => {
  assert.equal(KNOWN_CAPABILITIES.length, 41);
  assert.equal(KNOWN_CAPABILITIES[0], 'CAP_CHOWN');
  assert.equal(KNOWN_CAPABILITIES[21], 'CAP_SYS_ADMIN');
  assert.equal(KNOWN_CAPABILITIES[24], 'CAP_SYS_RESOURCE');
  assert.equal(KNOWN_CAPABILITIES[40], 'CAP_CHECKPOINT_RESTORE');
});

test('add and drop over the default set', () => {
  const caps = applyCapabilityChanges(DEFAULT_CAPABILITIES, ['NET_ADMIN', 'sys_time'], ['chown', 'CAP_KILL']);
  assert.ok(caps.includes('CAP_NET_ADMIN'));
  assert.ok(caps.includes('CAP_SYS_TIME'));
  assert.ok(!caps.includes('CAP_CHOWN'));
  assert.ok(!caps.includes('CAP_KILL'));
  assert.equal(caps.length, DEFAULT_CAPABILITIES.length);
  // Adding what is there already does not duplicate it.
  assert.deepEqual(applyCapabilityChanges(DEFAULT_CAPABILITIES, ['CHOWN']), [...DEFAULT_CAPABILITIES]);
});

test('ALL in add starts from everything, ALL in drop from nothing', () => {
  const all = ['CAP_CHOWN', 'CAP_KILL', 'CAP_SYS_ADMIN'];
  assert.deepEqual(applyCapabilityChanges(DEFAULT_CAPABILITIES, ['ALL'], [], all), all);
  assert.deepEqual(applyCapabilityChanges(DEFAULT_CAPABILITIES, ['all'], ['CHOWN'], all), ['CAP_KILL', 'CAP_SYS_ADMIN']);
  assert.deepEqual(applyCapabilityChanges(DEFAULT_CAPABILITIES, [], ['ALL']), []);
  assert.deepEqual(applyCapabilityChanges(DEFAULT_CAPABILITIES, ['NET_RAW'], ['ALL']), ['CAP_NET_RAW']);
  assert.throws(
    () => applyCapabilityChanges(DEFAULT_CAPABILITIES, [], ['BOGUS']),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test('capability masks as /proc shows them', () => {
  assert.deepEqual(capabilitiesFromMask('0000000000000000'), []);
  assert.deepEqual(capabilitiesFromMask('0000000000200001'), ['CAP_CHOWN', 'CAP_SYS_ADMIN']);
  const noResource = capabilitiesFromMask('000001fffeffffff');
  assert.equal(noResource.length, 40);
  assert.ok(!noResource.includes('CAP_SYS_RESOURCE'));
  const status = 'Name:\tnode\nCapInh:\t0000000000000000\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n';
  assert.deepEqual(new Set(boundingCapabilitiesFromStatus(status)), new Set(DEFAULT_CAPABILITIES));
});
