import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { parseSysctl, parseSysctls } from './sysctls.ts';

const own = { network: true, ipc: true };

test('namespaced sysctls map to their /proc/sys file and namespace', () => {
  assert.deepEqual(parseSysctl('net.ipv4.ip_unprivileged_port_start', '0', own), {
    name: 'net.ipv4.ip_unprivileged_port_start',
    path: 'net/ipv4/ip_unprivileged_port_start',
    namespace: 'net',
    value: '0',
  });
  assert.equal(parseSysctl('kernel.shmmax', '1', own).namespace, 'ipc');
  assert.equal(parseSysctl('kernel.msgmnb', '1', own).namespace, 'ipc');
  assert.equal(parseSysctl('kernel.sem', '250 32000 32 128', own).value, '250 32000 32 128');
  assert.equal(parseSysctl('fs.mqueue.msg_max', '20', own).path, 'fs/mqueue/msg_max');
});

test('both spellings of a name with a dot inside a component', () => {
  const dotted = parseSysctl('net.ipv4.conf.eth0/100.rp_filter', '1', own);
  const slashed = parseSysctl('net/ipv4/conf/eth0.100/rp_filter', '1', own);
  assert.equal(dotted.path, 'net/ipv4/conf/eth0.100/rp_filter');
  assert.equal(slashed.path, dotted.path);
  assert.equal(slashed.name, 'net.ipv4.conf.eth0/100.rp_filter');
});

function rejects(fn: () => unknown, code: string): void {
  assert.throws(fn, (e: unknown) => isBerthError(e, 'invalid-argument') && e.code === code);
}

test('node-wide sysctls are refused', () => {
  for (const name of ['kernel.panic', 'vm.swappiness', 'fs.file-max', 'kernel.hostname', 'kernel', 'net', 'kernel.sem.x', 'fs.mqueue']) {
    rejects(() => parseSysctl(name, '1', own), 'sysctl-not-namespaced');
  }
});

test('net.* needs its own netns, IPC sysctls their own IPC namespace', () => {
  rejects(() => parseSysctl('net.core.somaxconn', '1024', { network: false, ipc: true }), 'sysctl-host-namespace');
  rejects(() => parseSysctl('kernel.shmmni', '1', { network: true, ipc: false }), 'sysctl-host-namespace');
  rejects(() => parseSysctl('fs.mqueue.queues_max', '1', { network: true, ipc: false }), 'sysctl-host-namespace');
  assert.equal(parseSysctls({ 'kernel.shmmni': '1' }, { network: false, ipc: true }).length, 1);
});

test('malformed names and values are refused', () => {
  for (const name of ['', 'net..ipv4', 'net/../../etc', 'net.ipv4.a b', 'net.ipv4.$(x)', 'net/ipv4/..', '.net']) {
    rejects(() => parseSysctl(name, '1', own), 'sysctl-invalid');
  }
  rejects(() => parseSysctl('net.core.somaxconn', '1\n2', own), 'sysctl-invalid');
  rejects(() => parseSysctl('net.core.somaxconn', 'x'.repeat(5000), own), 'sysctl-invalid');
});
