import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { containerNamespaceSources, namespaceList, sandboxNamespaceSources } from './namespaces.ts';

const paths = { network: '/run/netns/p', ipc: '/run/ipcns/p', uts: '/run/utsns/p', pid: '/proc/42/ns/pid' };

test('a container joins its pod: network, IPC, UTS; its own PID namespace', () => {
  const ns = namespaceList(containerNamespaceSources({ pid: 'container' }, paths));
  assert.deepEqual(ns, [
    { type: 'pid' },
    { type: 'ipc', path: paths.ipc },
    { type: 'uts', path: paths.uts },
    { type: 'mount' },
    { type: 'network', path: paths.network },
  ]);
});

test('POD, NODE and TARGET PID modes', () => {
  assert.deepEqual(containerNamespaceSources({ pid: 'pod' }, paths).pid, { path: paths.pid });
  assert.equal(containerNamespaceSources({ pid: 'node' }, paths).pid, 'node');
  assert.deepEqual(containerNamespaceSources({ pid: 'target', targetId: 'c1' }, paths, '/proc/77/ns/pid').pid, { path: '/proc/77/ns/pid' });
  assert.throws(
    () => containerNamespaceSources({ pid: 'target', targetId: 'c1' }, paths),
    (e) => isBerthError(e, 'invalid-argument'),
  );
  assert.throws(
    () => containerNamespaceSources({ pid: 'pod' }, { network: paths.network, ipc: paths.ipc, uts: paths.uts }),
    (e) => isBerthError(e, 'invalid-argument') && /no pid namespace/.test(e.message),
  );
});

test('host network, PID and IPC leave the namespace out (UTS follows the network)', () => {
  const ns = namespaceList(containerNamespaceSources({ network: 'node', pid: 'node', ipc: 'node' }, paths));
  assert.deepEqual(ns, [{ type: 'mount' }]);
  const cg = namespaceList(containerNamespaceSources({ network: 'node', pid: 'container', ipc: 'node' }, paths), true);
  assert.deepEqual(cg, [{ type: 'pid' }, { type: 'mount' }, { type: 'cgroup' }]);
});

test('CONTAINER mode makes private network, IPC and UTS namespaces (no pod needed)', () => {
  const ns = namespaceList(containerNamespaceSources({ network: 'container', ipc: 'container', pid: 'container' }));
  assert.deepEqual(ns, [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }]);
  assert.throws(
    () => containerNamespaceSources({ network: 'target' }, paths),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test("user namespaces: NODE is the node's; POD adds a user namespace; other modes, node namespaces and an infra container are refused", () => {
  const mapping = [{ hostId: 100000, containerId: 0, length: 65536 }];
  const pod = { mode: 'pod', uids: mapping, gids: mapping } as const;
  containerNamespaceSources({ pid: 'container', usernsOptions: { mode: 'node' } }, paths);
  const sources = containerNamespaceSources({ pid: 'container', usernsOptions: pod }, paths);
  assert.deepEqual(namespaceList(sources, false, true).at(-1), { type: 'user' });
  const invalid = (e: unknown) => isBerthError(e, 'invalid-argument');
  assert.throws(
    () => containerNamespaceSources({ pid: 'container', usernsOptions: { mode: 'container', uids: mapping, gids: mapping } }, paths),
    invalid,
  );
  assert.throws(() => containerNamespaceSources({ pid: 'container', usernsOptions: { mode: 'pod', uids: mapping } }, paths), invalid);
  assert.throws(() => containerNamespaceSources({ pid: 'container', network: 'node', usernsOptions: pod }, paths), invalid);
  assert.throws(() => containerNamespaceSources({ pid: 'node', usernsOptions: pod }, paths), invalid);
  assert.throws(() => sandboxNamespaceSources({ usernsOptions: pod }), invalid);
});

test('the infra container joins pinned namespaces and creates the others', () => {
  assert.deepEqual(namespaceList(sandboxNamespaceSources({}, { network: paths.network })), [
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'network', path: paths.network },
  ]);
  assert.deepEqual(namespaceList(sandboxNamespaceSources({ network: 'node', pid: 'node', ipc: 'node' }, paths)), [{ type: 'mount' }]);
});
