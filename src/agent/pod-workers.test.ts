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

function slowProvider(log: string[]): PodLifecycleHandler & { active: number; maxActive: number } {
  const provider = {
    active: 0,
    maxActive: 0,
    async step(what: string) {
      provider.active++;
      provider.maxActive = Math.max(provider.maxActive, provider.active);
      log.push(what);
      await sleep(20);
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
  const provider = slowProvider(log);
  const controller = new AbortController();
  const workers = new PodWorkers({ provider, logger: silentLogger(), timings, signal: controller.signal });
  workers.update(pod('a', 'v1'));
  await sleep(5);
  workers.update(pod('a', 'v2'));
  workers.update(pod('a', 'v3'));
  workers.terminate(pod('a', 'v3'));
  await workers.terminated('a');
  assert.deepEqual(log, ['create a v1', 'delete a']);
  assert.equal(provider.maxActive, 1);
  controller.abort();
  await workers.idle();
});

test('different pods run side by side', async () => {
  const log: string[] = [];
  const provider = slowProvider(log);
  const controller = new AbortController();
  const workers = new PodWorkers({ provider, logger: silentLogger(), timings, signal: controller.signal });
  workers.update(pod('a', 'v1', 'a'));
  workers.update(pod('b', 'v1', 'b'));
  await sleep(5);
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
  const provider = slowProvider(log);
  const controller = new AbortController();
  const workers = new PodWorkers({ provider, logger: silentLogger(), timings, signal: controller.signal });
  workers.update(pod('a', 'v1'));
  await sleep(30);
  workers.terminate(pod('a', 'v1'));
  workers.update(pod('a', 'v1'));
  await workers.terminated('a');
  await sleep(60);
  assert.deepEqual(log, ['create a v1', 'delete a', 'create a v1']);
  assert.equal(workers.has('a'), true);
  controller.abort();
  await workers.idle();
});
