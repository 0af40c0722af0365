import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jumpTarget, type ProcInfo, ruleBelongs, splitRule, subnetPrefix, withDescendants } from './host.ts';

const owner = { subnets: ['10.231.0.0/16'], bridges: ['bctr-abc123'], networks: ['bench-containerd-abc123'] };

test('subnetPrefix keeps the whole octets of the mask', () => {
  assert.equal(subnetPrefix('10.231.0.0/16'), '10.231.');
  assert.equal(subnetPrefix('10.88.1.0/24'), '10.88.1.');
  assert.equal(subnetPrefix('10.0.0.0/8'), '10.');
});

test('rules of the run: its subnet, its bridge, its CNI network; nothing else', () => {
  const masq =
    '-A POSTROUTING -s 10.231.0.5/32 -m comment --comment "name: \\"bench-containerd-abc123\\" id: \\"e7cc\\"" -j CNI-81b837a7f2c902c14efe4a2d';
  assert.equal(ruleBelongs(masq, owner), true);
  assert.equal(jumpTarget(masq), 'CNI-81b837a7f2c902c14efe4a2d');
  assert.equal(
    ruleBelongs(
      '-A CNI-81b837a7f2c902c14efe4a2d ! -d 224.0.0.0/4 -m comment --comment "name: \\"bench-containerd-abc123\\" id: \\"e7cc\\"" -j MASQUERADE',
      owner,
    ),
    true,
  );
  assert.equal(ruleBelongs('-A FORWARD -o bctr-abc123 -j ACCEPT', owner), true);
  assert.equal(ruleBelongs('-A POSTROUTING -s 10.23.0.5/32 -j CNI-1', owner), false);
  assert.equal(ruleBelongs('-A FORWARD -o bctr-abc1234 -j ACCEPT', owner), false);
  assert.equal(ruleBelongs('-A POSTROUTING -m comment --comment "name: \\"other\\"" -j CNI-2', owner), false);
});

test('splitRule honours quoted comments', () => {
  assert.deepEqual(splitRule('-A POSTROUTING -s 10.1.0.5/32 -m comment --comment "name: \\"n\\" id: \\"x\\"" -j CNI-1'), [
    '-A',
    'POSTROUTING',
    '-s',
    '10.1.0.5/32',
    '-m',
    'comment',
    '--comment',
    'name: "n" id: "x"',
    '-j',
    'CNI-1',
  ]);
});

test('withDescendants walks the whole tree below the roots, and only that', () => {
  const p = (pid: number, ppid: number): ProcInfo => ({ pid, ppid, comm: 'x', cmdline: '', pidNs: 'pid:[1]' });
  const processes = [p(1, 0), p(10, 1), p(11, 10), p(12, 11), p(20, 1), p(21, 20)];
  assert.deepEqual(withDescendants(processes, [10]).sort(), [10, 11, 12]);
  assert.deepEqual(withDescendants(processes, [10, 21]).sort(), [10, 11, 12, 21]);
});
