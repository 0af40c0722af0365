import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod } from '../k8s-types.ts';
import { withPodDefaults } from '../pod-defaults.ts';
import { validatePod } from './pod-validation.ts';

const podWith = (spec: Partial<Pod['spec']>): Pod =>
  withPodDefaults({ metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'busybox' }], ...spec } });

test('hostAliases: IPv4 and IPv6 addresses with DNS-1123 hostnames pass, on the pod network and the host network', () => {
  const hostAliases = [
    { ip: '10.1.2.3', hostnames: ['foo.local', 'bar'] },
    { ip: '2001:db8::1', hostnames: ['v6.example.com'] },
  ];
  assert.deepEqual(validatePod(podWith({ hostAliases })), []);
  assert.deepEqual(validatePod(podWith({ hostAliases, hostNetwork: true })), []);
});

test('hostAliases: the API server errors for bad IPs and hostnames', () => {
  const errors = validatePod(
    podWith({
      hostAliases: [
        { ip: 'not-an-ip', hostnames: ['Upper.case'] },
        { ip: '010.1.2.3', hostnames: ['ok', 'under_score'] },
        { ip: '::ffff:1.2.3.4' },
        { ip: '', hostnames: [`${'a'.repeat(250)}.com`] },
      ],
    }),
  );
  assert.equal(errors.length, 7, errors.join('\n'));
  assert.equal(
    errors[0],
    'spec.hostAliases[0].ip: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
  );
  assert.match(errors[1]!, /^spec\.hostAliases\[0\]\.hostnames\[0\]: Invalid value: "Upper\.case": a lowercase RFC 1123 subdomain/);
  assert.equal(errors[2], 'spec.hostAliases[1].ip: Invalid value: "010.1.2.3": must not have leading 0s');
  assert.match(errors[3]!, /^spec\.hostAliases\[1\]\.hostnames\[1\]: Invalid value: "under_score": a lowercase RFC 1123 subdomain/);
  assert.equal(errors[4], 'spec.hostAliases[2].ip: Invalid value: "::ffff:1.2.3.4": must not be an IPv4-mapped IPv6 address');
  assert.match(errors[5]!, /^spec\.hostAliases\[3\]\.ip: Invalid value: "": must be a valid IP address/);
  assert.match(errors[6]!, /^spec\.hostAliases\[3\]\.hostnames\[0\]: Invalid value: "a+\.com": must be no more than 253 characters$/);
});
