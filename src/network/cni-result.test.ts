import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCniResult, podIps } from './cni-result.ts';
import { parseMountInfo } from './mountinfo.ts';

test('a 1.0.0 result: pod IPs are those on the sandbox interface, IPv4 first', () => {
  const r = parseCniResult({
    cniVersion: '1.0.0',
    interfaces: [
      { name: 'cni0', mac: 'aa:aa:aa:aa:aa:aa' },
      { name: 'veth1', mac: 'bb:bb:bb:bb:bb:bb' },
      { name: 'eth0', mac: 'cc:cc:cc:cc:cc:cc', sandbox: '/run/ns/p/net' },
    ],
    ips: [
      { address: 'fd00::5/64', gateway: 'fd00::1', interface: 2 },
      { address: '10.88.0.1/16', interface: 0 },
      { address: '10.88.0.5/16', gateway: '10.88.0.1', interface: 2 },
    ],
    routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }],
    dns: { nameservers: ['10.0.0.10'], search: ['svc.local'] },
  });
  assert.deepEqual(podIps(r), ['10.88.0.5', 'fd00::5']);
  assert.equal(r.interfaces[2]!.sandbox, '/run/ns/p/net');
  assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0', gw: 'fd00::1' }]);
  assert.deepEqual(r.dns, { nameservers: ['10.0.0.10'], search: ['svc.local'] });
});

test('a 0.3.1 result with "version" fields and no interface indexes', () => {
  const r = parseCniResult({
    cniVersion: '0.3.1',
    ips: [
      { version: '6', address: '2001:db8::2/64' },
      { version: '4', address: '10.1.2.3/24', gateway: '10.1.2.1' },
    ],
  });
  assert.deepEqual(podIps(r), ['10.1.2.3', '2001:db8::2']);
  assert.equal(r.ips[1]!.gateway, '10.1.2.1');
});

test('a 0.2.0 result with ip4 and ip6', () => {
  const r = parseCniResult({
    cniVersion: '0.2.0',
    ip4: { ip: '10.0.0.7/24', gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0' }] },
    ip6: { ip: 'fd00::7/64' },
  });
  assert.deepEqual(podIps(r), ['10.0.0.7', 'fd00::7']);
  assert.deepEqual(r.routes, [{ dst: '0.0.0.0/0' }]);
});

test('without an interface named like the pod interface, any sandbox interface counts', () => {
  const r = parseCniResult({
    cniVersion: '1.0.0',
    interfaces: [{ name: 'net1', sandbox: '/x' }],
    ips: [{ address: '192.168.1.9/24', interface: 0 }],
  });
  assert.deepEqual(podIps(r, 'eth0'), ['192.168.1.9']);
  assert.deepEqual(podIps(parseCniResult({ cniVersion: '1.0.0' })), []);
});

test('mountinfo: escaped paths and propagation tags', () => {
  const text = [
    '27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
    '60 56 0:4 net:[4026532252] /run/my\\040dir/net rw shared:4 master:2 - nsfs nsfs rw',
    'garbage',
  ].join('\n');
  const m = parseMountInfo(text);
  assert.equal(m.length, 2);
  assert.deepEqual(m[1], { root: 'net:[4026532252]', mountPoint: '/run/my dir/net', tags: ['shared:4', 'master:2'], fsType: 'nsfs' });
  assert.deepEqual(m[0]!.tags, ['shared:1']);
});
