import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../util/logger.ts';
import type { Pod } from './k8s-types.ts';
import { Pleg, statusFingerprint } from './pleg.ts';
import type { PodProvider } from './provider.ts';

function pod(uid: string, state: 'running' | 'exited', restartCount = 0): Pod {
  return {
    metadata: { uid, name: uid },
    spec: { containers: [{ name: 'c' }] },
    status: {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: `${Math.random()}` }],
      containerStatuses: [
        {
          name: 'c',
          state: state === 'running' ? { running: {} } : { terminated: { exitCode: 1 } },
          lastState: {},
          ready: state === 'running',
          restartCount,
          image: 'i',
          imageID: '',
        },
      ],
    },
  };
}

test('fingerprints ignore timestamps and see state changes', () => {
  assert.equal(statusFingerprint(pod('a', 'running').status), statusFingerprint(pod('a', 'running').status));
  assert.notEqual(statusFingerprint(pod('a', 'running').status), statusFingerprint(pod('a', 'exited').status));
  assert.notEqual(statusFingerprint(pod('a', 'running').status), statusFingerprint(pod('a', 'running', 1).status));
});

test('relist reports new, changed and vanished pods', async () => {
  let pods = [pod('a', 'running'), pod('b', 'running')];
  const provider = { getPods: async () => pods } as unknown as PodProvider;
  const changed: string[] = [];
  const pleg = new Pleg({
    provider,
    logger: silentLogger(),
    intervalMs: 1000,
    onRelist: () => undefined,
    onPodChanged: (uid) => changed.push(uid),
  });
  const signal = new AbortController().signal;
  await pleg.relist(signal);
  assert.deepEqual(changed.sort(), ['a', 'b']);
  changed.length = 0;
  await pleg.relist(signal);
  assert.deepEqual(changed, []);
  pods = [pod('a', 'exited')];
  await pleg.relist(signal);
  assert.deepEqual(changed.sort(), ['a', 'b']);
  assert.equal(pleg.status('a')?.containerStatuses?.[0]?.state.terminated?.exitCode, 1);
  assert.equal(pleg.status('b'), undefined);
});
