// The node's recent events through its API and `berth describe pod`, without an API server: what
// a provider records about a pod is listed at /events and in the Events section of describe.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { NodeEventLog } from '../../src/agent/event-log.ts';
import type { KubeEvent } from '../../src/agent/k8s-types.ts';
import { runNode } from '../../src/agent/node.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { nodeGet, socketUrl, testNodeApi } from './support/node-api.ts';
import { RecordingProvider } from './support/recording-provider.ts';
import { waitFor } from './support/wait-for.ts';

const run = promisify(execFile);
const BERTH = path.resolve(import.meta.dirname, '..', '..', 'bin', 'berth');

const manifest = (name: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  containers: [{name: c, image: busybox}]\n`;

test('events recorded about a pod are served at /events and shown by berth describe pod', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-node-events-'));
  const eventLog = new NodeEventLog({ nodeName: 'n1', logger: silentLogger() });
  const node = await runNode({
    nodeName: 'n1',
    provider: new RecordingProvider(),
    logger: silentLogger(),
    manifestDir: dir,
    timings: { relistMs: 50, manifestScanMs: 50, retryBaseMs: 50 },
    api: testNodeApi(dir),
    events: eventLog,
    recentEvents: (filter) => eventLog.list(filter),
  });
  try {
    await writeFile(path.join(dir, 'web.yaml'), manifest('web'));
    await writeFile(path.join(dir, 'db.yaml'), manifest('db'));
    const web = await waitFor('web listed', () => node.pod('default', 'web-n1'));
    const db = await waitFor('db listed', () => node.pod('default', 'db-n1'));
    eventLog.podEvent(web, 'Normal', 'Pulled', 'Container image "busybox" already present on machine', 'c');
    eventLog.podEvent(web, 'Warning', 'BackOff', 'Back-off restarting failed container c in pod web-n1', 'c');
    eventLog.podEvent(web, 'Warning', 'BackOff', 'Back-off restarting failed container c in pod web-n1', 'c');
    eventLog.podEvent(db, 'Normal', 'Started', 'Started container c', 'c');

    const base = socketUrl(node);
    const list = (await (await nodeGet(node, '/events?namespace=default&name=web-n1')).json()) as { kind: string; items: KubeEvent[] };
    assert.equal(list.kind, 'EventList');
    assert.deepEqual(
      list.items.map((e) => [e.type, e.reason, e.count, e.involvedObject.fieldPath]),
      [
        ['Normal', 'Pulled', 1, 'spec.containers{c}'],
        ['Warning', 'BackOff', 2, 'spec.containers{c}'],
      ],
    );

    const described = await run(BERTH, ['describe', 'pod', 'web-n1', '--node-api', base]);
    const section = described.stdout.slice(described.stdout.indexOf('Events:'));
    assert.match(section, /^Events:\n +Type +Reason +Age +From +Message\n/);
    assert.match(section, /\n +Normal +Pulled +\S+ +kubelet +Container image "busybox" already present on machine\n/);
    assert.match(section, /\n +Warning +BackOff +\S+ \(x2 over \S+\) +kubelet +Back-off restarting failed container c in pod web-n1\n/);
    assert.doesNotMatch(section, /Started/, 'only the described pod’s events');
  } finally {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
