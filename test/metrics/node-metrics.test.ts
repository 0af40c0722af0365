// berth node's /metrics/resource and /metrics/probes, as the kubelet serves them, from a node
// running a real pod on berth daemon (pods on 10.161.0.0/24), parsed by a Prometheus text parser.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { RunningNode } from '../../src/agent/node.ts';
import type { PodProvider } from '../../src/agent/provider.ts';
import { startBerthRuntime } from '../agent/support/berth-runtime.ts';
import { nodeGet, readOnlyBase } from '../agent/support/node-api.ts';
import { makeNodeDirs, removeDir, startCriNode, startRuntimeWithRegistry, stopNodeStack } from '../agent/support/node-harness.ts';
import type { RuntimeUnderTest } from '../agent/support/runtime-under-test.ts';
import { waitFor } from '../agent/support/wait-for.ts';
import type { TestRegistry } from '../support/registry.ts';
import { sampleValue, scrape } from './prometheus.ts';

const NODE = 'metrics-node';
const POD = `probed-${NODE}`;
let registry: TestRegistry | undefined;
let runtime: RuntimeUnderTest | undefined;
let provider: PodProvider | undefined;
let node: RunningNode | undefined;
let dir: string | undefined;

before(async () => {
  ({ registry, runtime } = await startRuntimeWithRegistry(startBerthRuntime, { subnet: '10.161.0.0/24' }));
  let manifestDir: string;
  ({ dir, manifestDir } = await makeNodeDirs('berth-node-metrics-'));
  ({ provider, node } = await startCriNode({ nodeName: NODE, runtime, dir, manifestDir, nodeApi: true }));
  await writeFile(
    path.join(manifestDir, 'probed.yaml'),
    `apiVersion: v1
kind: Pod
metadata: {name: probed, namespace: default}
spec:
  containers:
  - name: busy
    image: busybox:1.36
    command: [sh, -c, 'while :; do head -c 1000000 /dev/zero | md5sum >/dev/null; sleep 0.2; done']
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}
    livenessProbe: {exec: {command: ["false"]}, periodSeconds: 1, failureThreshold: 1000}
`,
  );
});

after(async () => {
  await stopNodeStack({ node, provider, runtime, registry });
  await removeDir(dir);
});

test('/metrics/probes counts each probe run by type and result', async () => {
  const labels = { pod: POD, namespace: 'default', container: 'busy' };
  const m = await waitFor(
    'a successful readiness probe and a failed liveness probe',
    async () => {
      const got = await scrape(async () => (await nodeGet(node!, '/metrics/probes')).text());
      const ready = sampleValue(got, 'prober_probe_total', { ...labels, probe_type: 'Readiness', result: 'successful' }) ?? 0;
      const live = sampleValue(got, 'prober_probe_total', { ...labels, probe_type: 'Liveness', result: 'failed' }) ?? 0;
      return ready >= 2 && live >= 2 ? got : undefined;
    },
    { timeoutMs: 120_000 },
  );
  assert.equal(m.get('prober_probe_total')?.type, 'COUNTER');
  const uid = node!.pods().find((p) => p.metadata.name === POD)?.metadata.uid;
  assert.ok(m.get('prober_probe_total')!.metrics.every((s) => s.labels?.pod_uid === uid));
});

test('/metrics/resource has the kubelet names for the node, the pod and its container', async () => {
  const m = await waitFor(
    "the pod's CPU and memory",
    async () => {
      const got = await scrape(async () => (await nodeGet(node!, '/metrics/resource')).text());
      return (sampleValue(got, 'container_cpu_usage_seconds_total', { pod: POD, container: 'busy' }) ?? 0) > 0 ? got : undefined;
    },
    { timeoutMs: 120_000 },
  );
  assert.equal(m.get('container_cpu_usage_seconds_total')?.type, 'COUNTER');
  assert.ok((sampleValue(m, 'container_memory_working_set_bytes', { pod: POD, namespace: 'default', container: 'busy' }) ?? 0) > 0);
  assert.ok((sampleValue(m, 'container_start_time_seconds', { pod: POD, container: 'busy' }) ?? 0) > 1_700_000_000);
  assert.ok((sampleValue(m, 'pod_cpu_usage_seconds_total', { pod: POD, namespace: 'default' }) ?? 0) > 0);
  assert.ok((sampleValue(m, 'pod_memory_working_set_bytes', { pod: POD }) ?? 0) > 0);
  assert.ok((sampleValue(m, 'node_cpu_usage_seconds_total') ?? 0) > 0);
  assert.ok((sampleValue(m, 'node_memory_working_set_bytes') ?? 0) > 0);
  assert.equal(sampleValue(m, 'scrape_error'), 0);
});

test('the read-only port serves both, as the kubelet does', async () => {
  for (const p of ['/metrics/resource', '/metrics/probes']) {
    const res = await fetch(`${readOnlyBase(node!)}${p}`);
    assert.equal(res.status, 200, p);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  }
});
