import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { hostIdOf, userNamespaceMappings, userNamespaceMounts } from './user-namespace.ts';

test('the mappings of mode POD as the OCI spec has them; bad ones are INVALID_ARGUMENT', () => {
  const uids = [{ hostId: 100000, containerId: 0, length: 65536 }];
  const gids = [{ hostId: 200000, containerId: 0, length: 1000 }];
  assert.equal(userNamespaceMappings(undefined), undefined);
  assert.equal(userNamespaceMappings({ mode: 'node' }), undefined);
  assert.deepEqual(userNamespaceMappings({ mode: 'pod', uids, gids }), {
    uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 200000, size: 1000 }],
  });
  const invalid = (e: unknown) => isBerthError(e, 'invalid-argument');
  assert.throws(() => userNamespaceMappings({ mode: 'pod', uids, gids: [] }), invalid);
  assert.throws(() => userNamespaceMappings({ mode: 'pod', uids: [{ hostId: 1, containerId: 0, length: 0 }], gids }), invalid);
  assert.throws(() => userNamespaceMappings({ mode: 'pod', uids: [{ hostId: 2 ** 32 - 1, containerId: 0, length: 2 }], gids }), invalid);
  assert.throws(() => userNamespaceMappings({ mode: 'target', uids, gids }), /mode TARGET is not supported/);
});

test('host IDs through the mappings', () => {
  const m = [
    { containerID: 0, hostID: 100000, size: 10 },
    { containerID: 1000, hostID: 300000, size: 1 },
  ];
  assert.equal(hostIdOf(m, 0), 100000);
  assert.equal(hostIdOf(m, 9), 100009);
  assert.equal(hostIdOf(m, 10), undefined);
  assert.equal(hostIdOf(m, 1000), 300000);
});

test("mounts in a user namespace: the node's /sys bound, read-only unless privileged; no mqueue", () => {
  const mounts = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'ro'] },
  ];
  assert.deepEqual(userNamespaceMounts(mounts, false), [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] },
  ]);
  assert.deepEqual(userNamespaceMounts(mounts, true)[1]?.options?.at(-1), 'rw');
});
