import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../util/logger.ts';
import { NodeEventLog } from './event-log.ts';
import type { Pod } from './k8s-types.ts';
import type { EventRecorder } from './provider.ts';

function pod(name: string, uid = `${name}-uid`): Pod {
  return {
    metadata: { name, namespace: 'default', uid },
    spec: { containers: [{ name: 'app', image: 'busybox' }], initContainers: [{ name: 'prepare', image: 'busybox' }] },
  };
}

test('events are kept per object, with the container as field path, oldest first', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const log = new NodeEventLog({ nodeName: 'n1', logger: silentLogger(), now: () => now });
  log.podEvent(pod('a'), 'Normal', 'Pulled', 'pulled', 'prepare');
  now += 1000;
  log.podEvent(pod('b'), 'Normal', 'Started', 'started b', 'app');
  now += 1000;
  log.podEvent(pod('a'), 'Warning', 'BackOff', 'back-off', 'app');
  const a = log.list({ namespace: 'default', name: 'a' });
  assert.deepEqual(
    a.map((e) => [e.reason, e.involvedObject.fieldPath, e.type, e.firstTimestamp, e.source?.host]),
    [
      ['Pulled', 'spec.initContainers{prepare}', 'Normal', '2026-01-01T00:00:00Z', 'n1'],
      ['BackOff', 'spec.containers{app}', 'Warning', '2026-01-01T00:00:02Z', 'n1'],
    ],
  );
  assert.equal(log.list().length, 3);
  assert.deepEqual(
    log.list({ uid: 'b-uid' }).map((e) => e.message),
    ['started b'],
  );
});

test('the same event within ten minutes counts up and moves to the end; later it is a new event', () => {
  let now = Date.parse('2026-01-01T00:00:00Z');
  const log = new NodeEventLog({ nodeName: 'n1', logger: silentLogger(), now: () => now });
  log.podEvent(pod('a'), 'Warning', 'BackOff', 'back-off', 'app');
  log.podEvent(pod('a'), 'Normal', 'Pulled', 'pulled', 'app');
  now += 60_000;
  log.podEvent(pod('a'), 'Warning', 'BackOff', 'back-off', 'app');
  assert.deepEqual(
    log.list().map((e) => [e.reason, e.count, e.firstTimestamp, e.lastTimestamp]),
    [
      ['Pulled', 1, '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z'],
      ['BackOff', 2, '2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z'],
    ],
  );
  now += 11 * 60_000;
  log.podEvent(pod('a'), 'Warning', 'BackOff', 'back-off', 'app');
  const backOff = log.list().filter((e) => e.reason === 'BackOff');
  assert.deepEqual(
    backOff.map((e) => [e.count, e.firstTimestamp]),
    [[1, '2026-01-01T00:12:00Z']],
  );
});

test('the log keeps only its capacity, dropping the oldest', () => {
  const log = new NodeEventLog({ nodeName: 'n1', logger: silentLogger(), capacity: 3 });
  for (let i = 0; i < 5; i++) log.podEvent(pod(`p${i}`), 'Normal', 'Started', `started ${i}`);
  assert.deepEqual(
    log.list().map((e) => e.involvedObject.name),
    ['p2', 'p3', 'p4'],
  );
});

test('every event is passed on to the next recorder unchanged', () => {
  const seen: unknown[][] = [];
  const next: EventRecorder = {
    podEvent: (p, type, reason, message, container) => seen.push([p.metadata.name, type, reason, message, container]),
  };
  const log = new NodeEventLog({ nodeName: 'n1', logger: silentLogger(), next });
  log.podEvent(pod('a'), 'Normal', 'Started', 'started', 'app');
  log.podEvent(pod('a'), 'Normal', 'Started', 'started', 'app');
  assert.deepEqual(seen, [
    ['a', 'Normal', 'Started', 'started', 'app'],
    ['a', 'Normal', 'Started', 'started', 'app'],
  ]);
});

test('node events are kept about the Node (its name as UID) and passed on', () => {
  const passed: string[] = [];
  const next: EventRecorder = { podEvent: () => {}, nodeEvent: (type, reason, message) => passed.push(`${type} ${reason} ${message}`) };
  const log = new NodeEventLog({ nodeName: 'n1', logger: silentLogger(), next });
  log.nodeEvent('Warning', 'FreeDiskSpaceFailed', 'Failed to garbage collect required amount of images.');
  const [event] = log.list({ name: 'n1' });
  assert.deepEqual(event?.involvedObject, { kind: 'Node', name: 'n1', uid: 'n1' });
  assert.equal(event?.reason, 'FreeDiskSpaceFailed');
  assert.deepEqual(passed, ['Warning FreeDiskSpaceFailed Failed to garbage collect required amount of images.']);
});
