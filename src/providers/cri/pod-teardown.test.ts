import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import { stopPod } from './pod-teardown.ts';
import type { ObservedPod } from './runtime-reader.ts';
import type { RuntimeContainerState } from './runtime-state.ts';

function container(name: string, state: RuntimeContainerState = 'running') {
  return {
    id: `id-${name}`,
    sandboxId: 'sb',
    name,
    restartCount: 0,
    state,
    createdAt: 1,
    startedAt: 1,
    finishedAt: 0,
    exitCode: 0,
    reason: '',
    message: '',
    image: 'i',
    imageRef: 'sha256:1',
    hash: 'h',
  };
}

/** A runtime that records stops; each StopContainer takes a little while, so overlaps would show. */
function recordingRuntime() {
  const log: string[] = [];
  const runtime = {
    async stopContainer(request: { containerId: string; timeout: bigint }) {
      log.push(`start ${request.containerId}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
      log.push(`done ${request.containerId}`);
      return {};
    },
    async stopPodSandbox(request: { podSandboxId: string }) {
      log.push(`sandbox ${request.podSandboxId}`);
      return {};
    },
  };
  return { log, runtime: runtime as unknown as RuntimeClient };
}

test('sidecars stop after the other containers, one at a time, the last declared first; then the sandbox', async () => {
  const { log, runtime } = recordingRuntime();
  const state: ObservedPod = {
    uid: 'u',
    name: 'p',
    namespace: 'default',
    sandboxes: [{ id: 'sb', attempt: 0, ready: true, createdAt: 1, ips: [], hostNetwork: false }],
    containers: [container('app'), container('first'), container('second'), container('done', 'exited'), container('worker')],
  };
  await stopPod(runtime, state, {
    graceSeconds: 30,
    callTimeoutMs: 1000,
    signal: new AbortController().signal,
    sidecars: ['first', 'second'],
  });
  assert.deepEqual(log, [
    'start id-app',
    'start id-worker',
    'done id-app',
    'done id-worker',
    'start id-second',
    'done id-second',
    'start id-first',
    'done id-first',
    'sandbox sb',
  ]);
});
