import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../util/logger.ts';
import type { Pod } from './k8s-types.ts';
import { PodWorkers } from './pod-workers.ts';
import type { PodLifecycleHandler } from './provider.ts';

function pod(uid: string, image: string, name = 'p'): Pod {
  return { metadata: { uid, name, namespace: 'default' }, spec: { containers: [{ name: 'c', image }] } };
}

/** Waits until `done` holds, looking every millisecond (the test's timeout bounds it). */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await sleep(1);
}

/** A provider whose calls hold until the test opens the gate (then all pass at once). */
function gatedProvider(log: string[]): PodLifecycleHandler & { active: number; maxActive: number; open(): void } {
  let opened = false;
  const held: (() => void)[] = [];
  const provider = {
    active: 0,
    maxActive: 0,
    open() {
      opened = true;
      for (const release of held.splice(0)) release();
    },
    async step(what: string) {
      provider.active++;
      provider.maxActive = Math.max(provider.maxActive, provider.active);
      log.push(what);
      if (!opened) await new Promise<void>((resolve) => held.push(resolve));
      provider.active--;
    },
    async createPod(p: Pod) {
      await provider.step(`create ${p.metadata.uid} ${p.spec.containers[0]!.image}`);
    },
    async updatePod(p: Pod) {
      await provider.step(`update ${p.metadata.uid} ${p.spec.containers[0]!.image}`);
    },
    async deletePod(p: Pod) {
      await provider.step(`delete ${p.metadata.uid}`);
    },
    getPod: async () => undefined,
    getPodStatus: async () => undefined,
    getPods: async () => [],
  };
  return provider;
}

const timings = { resyncMs: 60_000, retryBaseMs: 10, retryMaxMs: 100 };

test('calls for one pod never overlap and the latest spec wins', async () => {
  const log: string[] = [];
  const provider = gatedProvider(log);
  const controller = new AbortController();
  const workers = new PodWorkers({ provider, logger: silentLogger(), timings, signal: controller.signal });
  workers.update(pod('a', 'v1'));
  await until(() => provider.active === 1); // the create runs (held)
  workers.update(pod('a', 'v2'));
  workers.update(pod('a', 'v3'));
  workers.terminate(pod('a', 'v3'));
  provider.open();
  await workers.terminated('a');
  assert.deepEqual(log, ['create a v1', 'delete a']);
  assert.equal(provider.maxActive, 1);
  controller.abort();
  await workers.idle();
});

test('different pods run side by side', async () => {
  const log: string[] = [];
  const provider = gatedProvider(log);
  const controller = new AbortController();
  const workers = new PodWorkers({ provider, logger: silentLogger(), timings, signal: controller.signal });
  workers.update(pod('a', 'v1', 'a'));
  workers.update(pod('b', 'v1', 'b'));
  await until(() => provider.active === 2); // both creates run at once (held)
  provider.open();
  assert.equal(provider.maxActive, 2);
  workers.terminate(pod('a', 'v1', 'a'));
  await workers.terminated('a');
  assert.equal(workers.has('a'), false);
  assert.equal(workers.has('b'), true);
  controller.abort();
  await workers.idle();
});

test('a pod added again while terminating starts again once terminated', async () => {
  const log: string[] = [];
  const provider = gatedProvider(log);
  provider.open();
  const controller = new AbortController();
  const workers = new PodWorkers({ provider, logger: silentLogger(), timings, signal: controller.signal });
  workers.update(pod('a', 'v1'));
  await until(() => log.length >= 1 && provider.active === 0); // created
  workers.terminate(pod('a', 'v1'));
  workers.update(pod('a', 'v1'));
  await workers.terminated('a');
  await until(() => log.length >= 3 && provider.active === 0); // created again
  assert.deepEqual(log, ['create a v1', 'delete a', 'create a v1']);
  assert.equal(workers.has('a'), true);
  controller.abort();
  await workers.idle();
});
