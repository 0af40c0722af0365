import assert from 'node:assert/strict';
import { test } from 'node:test';
import { namesPod } from './pod-stream-commands.ts';

test('exec and port-forward hand over to the node API when their first argument names a pod', () => {
  assert.equal(namesPod(['pod/web', '--', 'ls']), true);
  assert.equal(namesPod(['-it', '-c', 'main', 'pods/web', '--', 'sh']), true);
  assert.equal(namesPod(['-n', 'kube-system', 'po/dns', '53']), true);
  assert.equal(namesPod(['-c', 'pod/x', 'abc123', 'ls']), false, 'a flag value is not the first argument');
  assert.equal(namesPod(['abc123', 'ls', 'pod/x']), false, 'a container ID first: crictl-style');
  assert.equal(namesPod(['-r', 'unix:///run/x.sock', '--', 'pod/x']), false);
});
