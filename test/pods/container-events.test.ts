// CRI GetContainerEvents against a real `berth daemon` with real pods: every state change of
// sandboxes and containers reaches every subscriber in order, with the pod's state after it;
// exits noticed by the exit watcher (also after a daemon restart) are published; a cancelled
// stream ends quietly; a subscriber that does not read is cut off with RESOURCE_EXHAUSTED while
// the others go on.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import {
  type ContainerEventResponse,
  ContainerEventType,
  ContainerState,
  NamespaceMode,
  PodSandboxState,
} from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { BerthError } from '../../src/errors/errors.ts';
import { type PodEnv, type PodInit, pidAlive, setUpAndTearDown, sleep, startPodEnv, waitFor } from '../support/pod-fixtures.ts';

const BUFFER = 16;
/** Pods on the host's network: no CNI, so this file needs no pod subnet. */
const hostNetworkPod = (name: string, extra: PodInit = {}): PodInit =>
  env.podConfig(name, { ...extra, linux: { securityContext: { namespaceOptions: { network: NamespaceMode.NODE } } } });
let env: PodEnv;
let warmPod: string;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({ index: 87, extraConfig: `container_events_buffer = ${BUFFER}` });
    warmPod = await env.runPod(hostNetworkPod('warm'));
  },
  async () => {
    if (env === undefined) return;
    const forced = await env.cleanUp();
    assert.deepEqual(
      forced.filter((f) => !f.endsWith('/state/ns')),
      [],
      'cleanup found nothing to remove by force',
    );
  },
);

/** One GetContainerEvents call, read as fast as events come. */
class EventReader {
  readonly events: ContainerEventResponse[] = [];
  readonly ended: Promise<unknown>;

  constructor(signal?: AbortSignal) {
    this.ended = (async () => {
      try {
        for await (const e of env.cri.runtime.getContainerEvents({}, { signal })) this.events.push(e);
        return undefined;
      } catch (e) {
        return e;
      }
    })();
  }

  /** (id, type) of the events about these IDs, in order. */
  about(ids: string[]): [string, string][] {
    return this.events
      .filter((e) => ids.includes(e.containerId))
      .map((e) => [e.containerId, ContainerEventType[e.containerEventType] ?? String(e.containerEventType)]);
  }

  find(id: string, type: ContainerEventType): ContainerEventResponse | undefined {
    return this.events.find((e) => e.containerId === id && e.containerEventType === type);
  }

  wait(what: string, id: string, type: ContainerEventType, timeoutMs = 20_000): Promise<ContainerEventResponse> {
    return waitFor(what, () => this.find(id, type), timeoutMs);
  }
}

let probes = 0;

/** Makes events (a container created and removed in the warm pod) until every reader has seen one: they are subscribed. */
async function subscribed(...readers: EventReader[]): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const id = await env.createContainer(warmPod, env.containerConfig(`probe-${probes++}`));
    await env.cri.runtime.removeContainer({ containerId: id });
    if (readers.every((r) => r.find(id, ContainerEventType.CONTAINER_DELETED_EVENT) !== undefined)) {
      for (const r of readers) r.events.length = 0;
      return;
    }
    await sleep(50);
  }
  throw new Error('the event streams never started');
}

const nowNs = () => BigInt(Date.now()) * 1_000_000n;

describe('GetContainerEvents', { timeout: 180_000 }, () => {
  test('every transition of a pod and its container reaches two subscribers, in order, with the pod state after it', async () => {
    const controller = new AbortController();
    const a = new EventReader(controller.signal);
    const b = new EventReader(controller.signal);
    try {
      await subscribed(a, b);
      const since = nowNs();
      const podId = await env.runPod(hostNetworkPod('events'));
      const cid = await env.startContainer(podId, env.containerConfig('work', 'sleep 1; exit 3'));
      const stopped = await a.wait('the exit seen by the exit watcher', cid, ContainerEventType.CONTAINER_STOPPED_EVENT);
      await env.cri.runtime.removeContainer({ containerId: cid });
      await env.cri.runtime.stopPodSandbox({ podSandboxId: podId });
      await env.cri.runtime.removePodSandbox({ podSandboxId: podId });
      await a.wait('the sandbox deleted (a)', podId, ContainerEventType.CONTAINER_DELETED_EVENT);
      await b.wait('the sandbox deleted (b)', podId, ContainerEventType.CONTAINER_DELETED_EVENT);
      const expected = [
        [podId, 'CONTAINER_CREATED_EVENT'],
        [podId, 'CONTAINER_STARTED_EVENT'],
        [cid, 'CONTAINER_CREATED_EVENT'],
        [cid, 'CONTAINER_STARTED_EVENT'],
        [cid, 'CONTAINER_STOPPED_EVENT'],
        [cid, 'CONTAINER_DELETED_EVENT'],
        [podId, 'CONTAINER_STOPPED_EVENT'],
        [podId, 'CONTAINER_DELETED_EVENT'],
      ];
      assert.deepEqual(a.about([podId, cid]), expected);
      assert.deepEqual(b.about([podId, cid]), expected);

      const exited = stopped.containersStatuses.find((c) => c.id === cid);
      assert.equal(exited?.state, ContainerState.CONTAINER_EXITED);
      assert.equal(exited?.exitCode, 3);
      assert.equal(exited?.reason, 'Error');
      assert.equal(stopped.podSandboxStatus?.id, podId);
      assert.equal(stopped.podSandboxStatus?.state, PodSandboxState.SANDBOX_READY);
      assert.equal(stopped.podSandboxStatus?.metadata?.name, 'events');
      const started = a.find(cid, ContainerEventType.CONTAINER_STARTED_EVENT)!;
      assert.equal(started.containersStatuses.find((c) => c.id === cid)?.state, ContainerState.CONTAINER_RUNNING);
      const sandboxStarted = a.find(podId, ContainerEventType.CONTAINER_STARTED_EVENT)!;
      assert.equal(sandboxStarted.podSandboxStatus?.linux?.namespaces?.options?.network, NamespaceMode.NODE);
      assert.deepEqual(sandboxStarted.containersStatuses, []);
      assert.equal(a.find(podId, ContainerEventType.CONTAINER_STOPPED_EVENT)?.podSandboxStatus?.state, PodSandboxState.SANDBOX_NOTREADY);
      const deleted = a.find(podId, ContainerEventType.CONTAINER_DELETED_EVENT)!;
      assert.equal(deleted.podSandboxStatus, undefined);
      assert.deepEqual(deleted.containersStatuses, []);
      const times = a.events.filter((e) => [podId, cid].includes(e.containerId)).map((e) => e.createdAt);
      assert.ok(
        times.every((t, i) => t >= since && t <= nowNs() && (i === 0 || t >= times[i - 1]!)),
        `created_at in order and in the test's time: ${times}`,
      );
    } finally {
      controller.abort();
      await Promise.all([a.ended, b.ended]);
    }
  });

  test('a cancelled stream ends quietly; the daemon serves new ones', async () => {
    const controller = new AbortController();
    const reader = new EventReader(controller.signal);
    await subscribed(reader);
    controller.abort();
    const ended = await reader.ended;
    assert.ok(ended instanceof BerthError && ended.kind === 'cancelled', `ended with ${String(ended)}`);
    const stop = new AbortController();
    const again = new EventReader(stop.signal);
    await subscribed(again);
    stop.abort();
    await again.ended;
    const errors = env.daemon.logEntries().filter((e) => Number(e.level) >= 50);
    assert.deepEqual(errors, [], 'no error in the daemon log');
  });

  test('after a daemon restart: an exit found by the recovery reaches the first subscriber; a later exit is published', async () => {
    const podId = await env.runPod(hostNetworkPod('late'));
    // Each exits when the test creates /tmp/go in its rootfs.
    const waitForGo = (code: number) => `while [ ! -e /tmp/go ]; do sleep 0.05; done; exit ${code}`;
    const go = (id: string) => writeFile(path.join(env.daemon.state, 'containers', id, 'rootfs', 'tmp', 'go'), '');
    const early = await env.startContainer(podId, env.containerConfig('early', waitForGo(5)));
    const late = await env.startContainer(podId, env.containerConfig('late', waitForGo(7)));
    const earlyPid = (
      JSON.parse((await env.cri.runtime.containerStatus({ containerId: early, verbose: true })).info.info ?? '{}') as { pid: number }
    ).pid;
    await env.daemon.kill9();
    await go(early);
    await waitFor('`early` to exit while the daemon is down', () => !pidAlive(earlyPid));
    await env.daemon.restart();
    const controller = new AbortController();
    const reader = new EventReader(controller.signal);
    try {
      const recovered = await reader.wait('the exit found by the recovery', early, ContainerEventType.CONTAINER_STOPPED_EVENT);
      assert.equal(recovered.containersStatuses.find((c) => c.id === early)?.exitCode, 5);
      assert.equal(reader.find(late, ContainerEventType.CONTAINER_STOPPED_EVENT), undefined, 'still running after the restart');
      await go(late);
      const stopped = await reader.wait('the exit after the restart', late, ContainerEventType.CONTAINER_STOPPED_EVENT, 30_000);
      const status = stopped.containersStatuses.find((c) => c.id === late);
      assert.equal(status?.exitCode, 7);
      assert.equal(status?.state, ContainerState.CONTAINER_EXITED);
      assert.equal(stopped.containersStatuses.find((c) => c.id === early)?.exitCode, 5, 'the pod state in the event');
    } finally {
      controller.abort();
      await reader.ended;
      await env.cri.runtime.removePodSandbox({ podSandboxId: podId });
    }
  });

  test('a subscriber that does not read is cut off with RESOURCE_EXHAUSTED; the others get everything', async () => {
    // Large annotations make each event large, so that the transport's buffers fill after a few.
    const annotations = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`berth.test/pad-${i}`, 'x'.repeat(8192)]));
    const podId = await env.runPod(hostNetworkPod('noisy', { annotations }));
    const controller = new AbortController();
    const fast = new EventReader(controller.signal);
    const slow = env.cri.runtime.getContainerEvents({}, { signal: controller.signal })[Symbol.asyncIterator]();
    try {
      const first = slow.next();
      await subscribed(fast);
      await first; // the slow one is subscribed too; from here on it does not read
      const made: string[] = [];
      for (let i = 0; i < 40; i++) {
        const id = await env.createContainer(podId, env.containerConfig(`noise-${i}`));
        await env.cri.runtime.removeContainer({ containerId: id });
        made.push(id);
      }
      const last = made.at(-1)!;
      await fast.wait('every event at the fast reader', last, ContainerEventType.CONTAINER_DELETED_EVENT);
      const expected = made.flatMap((id) => [
        [id, 'CONTAINER_CREATED_EVENT'],
        [id, 'CONTAINER_DELETED_EVENT'],
      ]);
      assert.deepEqual(fast.about(made), expected);

      let received = 0;
      let failure: unknown;
      try {
        for (let next = await slow.next(); !next.done; next = await slow.next()) received++;
      } catch (e) {
        failure = e;
      }
      assert.ok(failure instanceof BerthError, `the slow stream ended with an error, got ${String(failure)}`);
      assert.equal(failure.kind, 'resource-exhausted');
      assert.match(failure.message, new RegExp(`more than ${BUFFER} events pending`));
      assert.ok(received < expected.length, `the slow reader got only part (${received} of ${expected.length})`);
      // The daemon and the other subscribers go on.
      const after = new EventReader(controller.signal);
      await subscribed(fast, after);
    } finally {
      controller.abort();
      await fast.ended;
      await slow.return?.();
      await env.cri.runtime.removePodSandbox({ podSandboxId: podId });
    }
  });
});
