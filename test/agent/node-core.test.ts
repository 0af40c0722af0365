// The node core with an in-memory provider: static pods from a manifest directory reach the
// provider as the kubelet would hand them over, serialised per pod, with retries, orphan
// clean-up and name-collision ordering.
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runNode } from '../../src/agent/node.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { nodeGet, readOnlyBase, testNodeApi } from './support/node-api.ts';
import { RecordingProvider } from './support/recording-provider.ts';
import { waitFor } from './support/wait-for.ts';

const manifest = (name: string, image = 'busybox:1.36') =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  containers: [{name: c, image: "${image}"}]\n`;

const timings = { relistMs: 50, manifestScanMs: 50, resyncMs: 60_000, retryBaseMs: 50, retryMaxMs: 200 };

async function withNode(
  body: (ctx: { dir: string; provider: RecordingProvider; node: Awaited<ReturnType<typeof runNode>> }) => Promise<void>,
  provider = new RecordingProvider(),
) {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-node-core-'));
  const node = await runNode({
    nodeName: 'n1',
    nodeIP: '192.0.2.10',
    provider,
    logger: silentLogger(),
    manifestDir: dir,
    timings,
    api: testNodeApi(dir),
  });
  try {
    await body({ dir, provider, node });
  } finally {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

test('a manifest is created, reported with status, and deleted when removed', async () => {
  await withNode(async ({ dir, provider, node }) => {
    await writeFile(path.join(dir, 'web.yaml'), manifest('web'));
    const pod = await waitFor('web running', () =>
      node.pod('default', 'web-n1')?.status?.phase === 'Running' ? node.pod('default', 'web-n1') : undefined,
    );
    const uid = pod.metadata.uid!;
    assert.equal(provider.callsFor(uid)[0], 'createPod');
    await unlink(path.join(dir, 'web.yaml'));
    await waitFor('web deleted', () => (provider.callsFor(uid).includes('deletePod') && !provider.running.has(uid) ? true : undefined));
    assert.equal(node.pod('default', 'web-n1'), undefined);
    assert.equal(provider.overlapping, false);
  });
});

test('before the provider reports it, a pod shows as Pending with ContainerCreating', async () => {
  const provider = new RecordingProvider();
  provider.failCreates = 1000;
  await withNode(async ({ dir, node }) => {
    await writeFile(path.join(dir, 'web.yaml'), manifest('web'));
    const pod = await waitFor('web listed', () => node.pod('default', 'web-n1'));
    assert.equal(pod.status?.phase, 'Pending');
    assert.equal(pod.status?.hostIP, '192.0.2.10');
    assert.deepEqual(pod.status?.containerStatuses?.[0]?.state, { waiting: { reason: 'ContainerCreating' } });
    assert.equal(pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status, 'True');
  }, provider);
});

test('a failed create is retried', async () => {
  const provider = new RecordingProvider();
  provider.failCreates = 2;
  await withNode(async ({ dir, node }) => {
    await writeFile(path.join(dir, 'web.yaml'), manifest('web'));
    const pod = await waitFor('web running', () =>
      node.pod('default', 'web-n1')?.status?.phase === 'Running' ? node.pod('default', 'web-n1') : undefined,
    );
    assert.deepEqual(provider.callsFor(pod.metadata.uid!).slice(0, 3), ['createPod', 'createPod', 'createPod']);
  }, provider);
});

/** Notes, at each createPod, whether the pod `watched` still runs in the provider. */
class ReplacementProvider extends RecordingProvider {
  watched: string | undefined;
  readonly watchedRunningAtCreate: boolean[] = [];
  override async createPod(pod: Parameters<RecordingProvider['createPod']>[0]) {
    if (this.watched !== undefined) this.watchedRunningAtCreate.push(this.running.has(this.watched));
    return super.createPod(pod);
  }
}

test('a changed manifest replaces the pod: the old one is deleted before the new one is created', async () => {
  const provider = new ReplacementProvider();
  provider.deleteDelayMs = 300;
  await withNode(async ({ dir, node }) => {
    const file = path.join(dir, 'web.yaml');
    await writeFile(file, manifest('web'));
    const first = await waitFor('first version running', () =>
      node.pod('default', 'web-n1')?.status?.phase === 'Running' ? node.pod('default', 'web-n1') : undefined,
    );
    provider.watched = first.metadata.uid;
    await writeFile(file, manifest('web', 'busybox:1.37'));
    const second = await waitFor('second version running', () => {
      const p = node.pod('default', 'web-n1');
      return p?.metadata.uid !== first.metadata.uid && p?.status?.phase === 'Running' ? p : undefined;
    });
    assert.ok(provider.callsFor(first.metadata.uid!).includes('deletePod'));
    // The deletion takes a while (deleteDelayMs); the new pod was created only once it had ended.
    assert.deepEqual(provider.watchedRunningAtCreate, [false], 'the new pod waited for the old one to be gone');
    assert.equal(second.spec.containers[0]!.image, 'busybox:1.37');
  }, provider);
});

test('pods the provider runs that the node does not have are stopped', async () => {
  const provider = new RecordingProvider();
  provider.running.set('orphan-uid', {
    metadata: { name: 'left-over', namespace: 'default', uid: 'orphan-uid' },
    spec: { containers: [{ name: 'c' }] },
  });
  await withNode(async () => {
    await waitFor('orphan deleted', () => (provider.callsFor('orphan-uid').includes('deletePod') ? true : undefined));
    assert.equal(provider.running.has('orphan-uid'), false);
  }, provider);
});

test('a resync requested by the provider happens', async () => {
  const provider = new RecordingProvider();
  provider.syncResult = { resyncAfterMs: 100 };
  await withNode(async ({ dir, node }) => {
    await writeFile(path.join(dir, 'web.yaml'), manifest('web'));
    const pod = await waitFor('web listed', () => node.pod('default', 'web-n1'));
    await waitFor('updatePod called again', () =>
      provider.callsFor(pod.metadata.uid!).filter((m) => m === 'updatePod').length >= 2 ? true : undefined,
    );
    assert.equal(provider.overlapping, false);
  }, provider);
});

test('bad manifests are listed as problems', async () => {
  await withNode(async ({ dir, node }) => {
    await writeFile(path.join(dir, 'bad.yaml'), 'kind: [');
    await writeFile(path.join(dir, 'good.yaml'), manifest('good'));
    await waitFor('good running', () => (node.pod('default', 'good-n1')?.status?.phase === 'Running' ? true : undefined));
    assert.deepEqual(
      node.manifestProblems().map((p) => path.basename(p.file)),
      ['bad.yaml'],
    );
  });
});

test('the node API: /healthz, /pods as a v1 PodList, 501 for hooks the provider lacks, 404 otherwise; the read-only port serves no logs', async () => {
  await withNode(async ({ dir, node }) => {
    await writeFile(path.join(dir, 'web.yaml'), manifest('web'));
    await waitFor('web running', () => (node.pod('default', 'web-n1')?.status?.phase === 'Running' ? true : undefined));
    const base = readOnlyBase(node);
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal(await health.text(), 'ok');
    const list = (await (await fetch(`${base}/pods`)).json()) as {
      kind: string;
      apiVersion: string;
      items: { metadata: { name: string }; status: { phase: string } }[];
    };
    assert.equal(list.kind, 'PodList');
    assert.equal(list.apiVersion, 'v1');
    assert.deepEqual(
      list.items.map((p) => [p.metadata.name, p.status.phase]),
      [['web-n1', 'Running']],
    );
    assert.equal((await fetch(`${base}/containerLogs/default/web-n1/c`)).status, 404);
    assert.equal((await nodeGet(node, '/containerLogs/default/web-n1/c')).status, 501);
    assert.equal((await nodeGet(node, '/nothing')).status, 404);
    assert.equal((await fetch(`${base}/nothing`)).status, 404);
    assert.equal((await fetch(`${base}/pods`, { method: 'POST' })).status, 405);
  });
});

test('the node API: /metrics in the Prometheus text format', async () => {
  await withNode(async ({ dir, node }) => {
    await writeFile(path.join(dir, 'web.yaml'), manifest('web'));
    await writeFile(path.join(dir, 'bad.yaml'), 'kind: [');
    await waitFor('web running', () => (node.pod('default', 'web-n1')?.status?.phase === 'Running' ? true : undefined));
    const res = await fetch(`${readOnlyBase(node)}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    const lines = text.split('\n');
    assert.ok(lines.includes('# TYPE berth_node_pods gauge'));
    assert.ok(lines.includes('berth_node_pods{phase="Running"} 1'));
    assert.ok(lines.includes('berth_node_pods{phase="Pending"} 0'));
    assert.ok(lines.includes('berth_node_containers{state="running"} 1'));
    assert.ok(lines.includes('berth_node_container_restarts{namespace="default",pod="web-n1",container="c"} 0'));
    assert.ok(lines.includes('berth_node_manifest_problems 1'));
    assert.ok(lines.includes('# TYPE kubelet_pod_worker_duration_seconds histogram'));
    assert.match(text, /^kubelet_pod_worker_duration_seconds_count\{operation_type="create"\} 1$/m);
    assert.match(text, /^kubelet_pleg_relist_duration_seconds_count [1-9]\d*$/m);
    assert.ok(text.endsWith('\n'));
  });
});
