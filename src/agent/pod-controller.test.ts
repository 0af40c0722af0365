import assert from 'node:assert/strict';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../util/logger.ts';
import type { Pod, PodPhase } from './k8s-types.ts';
import { PodController } from './pod-controller.ts';
import { PodSources } from './pod-sources.ts';
import type { PodHousekeeper, PodLifecycleHandler } from './provider.ts';

function pod(uid: string, image = 'v1', extra: { deleted?: boolean; phase?: PodPhase; resourceVersion?: string } = {}): Pod {
  return {
    metadata: {
      uid,
      name: uid,
      namespace: 'default',
      ...(extra.resourceVersion ? { resourceVersion: extra.resourceVersion } : {}),
      ...(extra.deleted ? { deletionTimestamp: '2025-01-01T00:00:00Z', deletionGracePeriodSeconds: 0 } : {}),
    },
    spec: { containers: [{ name: 'c', image }] },
    ...(extra.phase ? { status: { phase: extra.phase } } : {}),
  };
}

/** A provider that records its calls; clean-ups wait until released. */
function recordingProvider() {
  const calls: string[] = [];
  const cleanups: string[][] = [];
  let releaseCleanup = () => {};
  const provider: PodLifecycleHandler & PodHousekeeper = {
    async createPod(p) {
      calls.push(`create ${p.metadata.uid} ${p.spec.containers[0]!.image}`);
    },
    async updatePod(p) {
      calls.push(`update ${p.metadata.uid} ${p.spec.containers[0]!.image}`);
    },
    async deletePod(p) {
      calls.push(`delete ${p.metadata.uid}`);
    },
    getPod: async () => undefined,
    getPodStatus: async () => undefined,
    getPods: async () => [],
    cleanupPods(active) {
      cleanups.push([...active].sort());
      return new Promise<void>((resolve) => {
        releaseCleanup = resolve;
      });
    },
  };
  return { provider, calls, cleanups, releaseCleanup: () => releaseCleanup() };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await sleep(10);
  assert.ok(check(), `waited for: ${what}`);
}

/** Lets calls that were (wrongly) asked for reach the provider before the test looks. */
const settle = () => sleep(30);

function setup(t: TestContext, fromApiServer = true) {
  const { provider, calls, cleanups, releaseCleanup } = recordingProvider();
  const stopper = new AbortController();
  const logger = silentLogger();
  const sources = new PodSources({ nodeName: 'n', manifestScanMs: 1000, fromApiServer, logger });
  const controller = new PodController({
    provider,
    sources,
    logger,
    timings: { resyncMs: 60_000, retryBaseMs: 10, retryMaxMs: 100 },
    signal: stopper.signal,
  });
  const forgotten: string[] = [];
  const terminated: string[] = [];
  controller.on('forgotten', (uid) => forgotten.push(uid));
  controller.on('terminated', (p) => terminated.push(p.metadata.uid!));
  t.after(async () => {
    stopper.abort();
    releaseCleanup();
    await controller.idle();
  });
  return { sources, controller, calls, cleanups, releaseCleanup, forgotten, terminated };
}

test('a pod is created once and updated only when its spec changes', async (t) => {
  const { sources, controller, calls } = setup(t);
  sources.setStaticPods([pod('a')]);
  await until('created', () => calls.length === 1);
  sources.setStaticPods([pod('a', 'v1', { resourceVersion: '7', phase: 'Running' })]);
  await settle();
  sources.setStaticPods([pod('a', 'v2')]);
  await until('updated', () => calls.length === 2);
  assert.deepEqual(calls, ['create a v1', 'update a v2']);
  assert.deepEqual(
    controller.pods().map((p) => p.spec.containers[0]!.image),
    ['v2'],
  );
});

test('a pod that leaves its source is stopped and forgotten', async (t) => {
  const { sources, controller, calls, forgotten, terminated } = setup(t);
  sources.setStaticPods([pod('a'), pod('b')]);
  await until('created', () => calls.length === 2);
  sources.setStaticPods([pod('b')]);
  assert.deepEqual(forgotten, ['a']);
  assert.equal(controller.pod('default', 'a'), undefined);
  assert.equal(controller.pod('default', 'b')?.metadata.uid, 'b');
  await until('terminated', () => terminated.length === 1);
  assert.deepEqual(calls.slice(2), ['delete a']);
});

test('a pod deleted in the API is stopped, forgotten once gone, and not started again while the API still lists it', async (t) => {
  const { sources, controller, calls, forgotten, terminated } = setup(t);
  sources.setApiPods([pod('a')]);
  await until('created', () => calls.length === 1);
  sources.setApiPods([pod('a', 'v1', { deleted: true })]);
  assert.deepEqual(
    controller.runningPods().map((p) => p.metadata.uid),
    [],
    'a pod being deleted is not probed',
  );
  await until('terminated', () => terminated.length === 1);
  assert.deepEqual(forgotten, ['a']);
  assert.deepEqual(controller.pods(), []);
  sources.setApiPods([pod('a', 'v1', { deleted: true })]);
  await settle();
  assert.deepEqual(calls, ['create a v1', 'delete a']);
});

test('an API pod that finished before the node saw it is not started; one that finishes later stays the node’s', async (t) => {
  const { sources, controller, calls } = setup(t);
  sources.setApiPods([pod('done', 'v1', { phase: 'Succeeded' }), pod('b')]);
  await until('created', () => calls.length === 1);
  sources.setApiPods([pod('done', 'v1', { phase: 'Succeeded' }), pod('b', 'v1', { phase: 'Failed' })]);
  await settle();
  assert.deepEqual(calls, ['create b v1']);
  assert.deepEqual(
    controller.pods().map((p) => p.metadata.uid),
    ['b'],
  );
});

test('pods the provider runs that no source has are stopped once every source was read, but not those just terminated', async (t) => {
  const { sources, controller, calls, terminated } = setup(t);
  controller.relisted([pod('orphan')], Date.now());
  await settle();
  assert.deepEqual(calls, [], 'no orphans before the API was listed');

  sources.setApiPods([pod('a')]);
  await until('created', () => calls.length === 1);
  const startedAt = Date.now();
  controller.relisted([pod('orphan'), pod('a')], startedAt);
  await until('orphan terminated', () => terminated.includes('orphan'));
  // A relist that began before the termination still saw the orphan: it must not be stopped twice.
  controller.relisted([pod('orphan'), pod('a')], startedAt);
  await settle();
  assert.deepEqual(calls, ['create a v1', 'delete orphan']);
});

test('the provider cleans up, one clean-up at a time, sparing every pod the node still has', async (t) => {
  const { sources, controller, cleanups, releaseCleanup } = setup(t);
  controller.relisted([], Date.now());
  assert.deepEqual(cleanups, [], 'no clean-up before every source was read');

  sources.setApiPods([pod('wanted'), pod('done', 'v1', { phase: 'Succeeded' })]);
  controller.relisted([pod('relisted')], Date.now());
  controller.relisted([], Date.now());
  assert.deepEqual(cleanups, [['done', 'relisted', 'wanted']]);
  releaseCleanup();
  await until('first clean-up done', () => {
    controller.relisted([], Date.now());
    return cleanups.length === 2;
  });
  assert.deepEqual(cleanups[1], ['done', 'wanted'], 'the stopped orphan is no longer spared');
});
