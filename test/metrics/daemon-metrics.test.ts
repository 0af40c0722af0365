// berth daemon's Prometheus metrics, scraped from a real daemon after real CRI calls (a pull from
// the loopback registry, a pod, a container, one that cannot start, an unknown pod) and parsed by
// a Prometheus text-format parser.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ContainerState } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { pushImage } from '../support/image-builder.ts';
import { expectCriError, IMAGE_HOST, type PodEnv, startPodEnv } from '../support/pod-fixtures.ts';
import { freePort } from '../support/ports.ts';
import { type Family, histogramCount, sampleValue, scrape } from './prometheus.ts';

let env: PodEnv;
let url = '';

before(async () => {
  const port = await freePort();
  url = `http://127.0.0.1:${port}/metrics`;
  env = await startPodEnv({ index: 62, extraConfig: `[metrics]\naddress = "127.0.0.1:${port}"\n` });
});

after(async () => {
  if (!env) return;
  assert.deepEqual(
    (await env.cleanUp()).filter((f) => !f.endsWith('/state/ns')),
    [],
  );
});

const metrics = () => scrape(async () => (await fetch(url)).text());

test('CRI calls are counted and timed by method and code, as containerd counts them', async () => {
  await env.cri.runtime.version({});
  await expectCriError(env.cri.runtime.podSandboxStatus({ podSandboxId: 'no-such-pod' }), 'NOT_FOUND');
  const m = await metrics();
  const rs = { grpc_service: 'runtime.v1.RuntimeService', grpc_type: 'unary' };
  assert.ok(sampleValue(m, 'grpc_server_started_total', { ...rs, grpc_method: 'Version' })! >= 1);
  assert.ok(sampleValue(m, 'grpc_server_handled_total', { ...rs, grpc_method: 'Version', grpc_code: 'OK' })! >= 1);
  assert.equal(sampleValue(m, 'grpc_server_handled_total', { ...rs, grpc_method: 'PodSandboxStatus', grpc_code: 'NOT_FOUND' }), 1);
  const histogram = m.get('grpc_server_handling_seconds') as Family;
  assert.equal(histogram.type, 'HISTOGRAM');
  const text = await (await fetch(url)).text();
  assert.ok(
    (histogramCount(text, 'grpc_server_handling_seconds', { ...rs, grpc_method: 'Version' }) ?? 0) >= 1,
    'no Version latency recorded',
  );
});

test('pulls, pods and containers by state, runtime handler errors and the process are reported', async () => {
  const before = await metrics();
  const pulled = sampleValue(before, 'berth_image_pull_bytes_total') ?? 0;
  // An image of a layer no other image has, so that its pull downloads it.
  await pushImage(env.registry, 'library/metrics-only:1', {
    layers: [{ entries: [{ type: 'file', name: 'metrics-only', content: 'x'.repeat(4096) }] }],
  });
  await env.cri.image.pullImage({ image: { image: `${IMAGE_HOST}/library/metrics-only:1` } });
  const config = env.podConfig('metrics');
  const podId = await env.runPod(config);
  const running = await env.startContainer(podId, env.containerConfig('sleeper'), config);
  // A container whose command does not exist: runc's create fails, the handler's error is counted.
  const broken = await env.createContainer(podId, env.containerConfig('broken', 'x', { command: ['/no/such/binary'] }), config);
  await assert.rejects(env.cri.runtime.startContainer({ containerId: broken }));
  const m = await metrics();
  assert.ok((sampleValue(m, 'berth_image_pull_bytes_total') ?? 0) > pulled, 'the pull downloaded layers');
  assert.ok((histogramCount(await (await fetch(url)).text(), 'berth_image_pull_duration_seconds', { result: 'success' }) ?? 0) >= 1);
  assert.equal(sampleValue(m, 'berth_pod_sandboxes', { state: 'ready' }), 1);
  assert.equal(sampleValue(m, 'berth_containers', { state: 'running' }), 1);
  assert.equal(sampleValue(m, 'berth_containers', { state: 'exited' }), 1);
  assert.ok((sampleValue(m, 'berth_runtime_handler_errors_total', { handler: 'runc', operation: 'create' }) ?? 0) >= 1);
  assert.ok((sampleValue(m, 'process_resident_memory_bytes') ?? 0) > 10 * 1024 * 1024);
  assert.ok(m.has('process_cpu_seconds_total'));
  const status = await env.cri.runtime.containerStatus({ containerId: running });
  assert.equal(status.status?.state, ContainerState.CONTAINER_RUNNING);
  await env.cri.runtime.stopPodSandbox({ podSandboxId: podId });
  await env.cri.runtime.removePodSandbox({ podSandboxId: podId });
  const gone = await metrics();
  assert.equal(sampleValue(gone, 'berth_pod_sandboxes', { state: 'ready' }), 0);
  assert.equal(sampleValue(gone, 'berth_containers', { state: 'running' }), 0);
});

test('only /metrics is served there', async () => {
  assert.equal((await fetch(url.replace('/metrics', '/'))).status, 404);
});
