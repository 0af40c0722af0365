// The set-up the node scenario modules share: a registry holding the base images, a work folder
// with a manifest folder, berth node with the cri provider on the runtime under test, what the
// runtime holds of a pod, and the texts that failure messages are made of. Each scenario keeps its
// own manifests, expectations and timings.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { NodeTimings, RunningNode } from '../../../src/agent/node.ts';
import { runNode } from '../../../src/agent/node.ts';
import type { EventRecorder, PodProvider } from '../../../src/agent/provider.ts';
import type { ManifestObjectStore } from '../../../src/agent/static-pods/manifest-object-store.ts';
import { connectCri } from '../../../src/cri/cri-client.ts';
import { loadProvider } from '../../../src/providers/load-provider.ts';
import { createLogger, type Logger, silentLogger } from '../../../src/util/logger.ts';
import type { FakeApiServer } from '../../fake-apiserver/fake-apiserver.ts';
import { pushImage } from '../../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { busyboxImage, pauseImage } from './images.ts';
import { testNodeApi } from './node-api.ts';
import type { RuntimeUnderTest, StartRuntime } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

/** The berth CLI of this checkout. */
export const BERTH = path.resolve(import.meta.dirname, '..', '..', '..', 'bin', 'berth');

/** Silent unless BERTH_TEST_LOG names a level. */
export const testLogger: Logger = process.env.BERTH_TEST_LOG ? createLogger(process.env.BERTH_TEST_LOG) : silentLogger();

/** The node timings most scenarios run with: quick relists, manifest scans and retries. */
export const QUICK_TIMINGS: Partial<NodeTimings> = { relistMs: 500, manifestScanMs: 300, retryBaseMs: 500 };

/** A registry holding `library/busybox:1.36` and `pause:3.9`, as StartRuntime wants it. Stopped again if the pushes fail. */
export async function startRegistryWithBaseImages(options?: Parameters<typeof startRegistry>[0]): Promise<TestRegistry> {
  const registry = await startRegistry(options);
  try {
    await pushImage(registry, 'library/busybox:1.36', busyboxImage());
    await pushImage(registry, 'pause:3.9', pauseImage());
    return registry;
  } catch (e) {
    await registry.stop();
    throw e;
  }
}

/** The runtime under test with a registry of its own (startRegistryWithBaseImages); the registry is stopped again if the runtime fails to start. */
export async function startRuntimeWithRegistry(
  start: StartRuntime,
  options?: { subnet?: string },
): Promise<{ registry: TestRegistry; runtime: RuntimeUnderTest }> {
  const registry = await startRegistryWithBaseImages();
  try {
    return { registry, runtime: await start(registry, options) };
  } catch (e) {
    await registry.stop();
    throw e;
  }
}

/** A fresh work folder under the system's temporary folder, with an empty `manifests` folder in it. */
export async function makeNodeDirs(prefix: string): Promise<{ dir: string; manifestDir: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  const manifestDir = path.join(dir, 'manifests');
  await mkdir(manifestDir);
  return { dir, manifestDir };
}

/** Removes the work folder, if one was made. */
export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

export interface CriNodeOptions {
  nodeName: string;
  runtime: RuntimeUnderTest;
  /** The work folder: pod logs go to its `pod-logs`. */
  dir: string;
  manifestDir: string;
  logger?: Logger;
  /** The provider's event recorder. */
  events?: EventRecorder;
  /** The node's event recorder (probe failures, node events). */
  nodeEvents?: EventRecorder;
  /** ConfigMaps and Secrets of the manifest folder, for the provider and the node alike. */
  objects?: ManifestObjectStore;
  /** More cri provider settings; the runtime's own come last. */
  providerConfig?: Record<string, unknown>;
  /** Wraps the provider before the node gets it (to watch its calls). */
  wrapProvider?: (provider: PodProvider) => PodProvider;
  timings?: Partial<NodeTimings>;
  /** Serve the node API: its socket in `dir` and a read-only port (support/node-api.ts). */
  nodeApi?: boolean;
}

/** The cri provider on `runtime` and berth node in standalone mode on top of it. The provider is closed again if the node fails to start. */
export async function startCriNode(options: CriNodeOptions): Promise<{ provider: PodProvider; node: RunningNode }> {
  const { nodeName, runtime, objects } = options;
  const logger = options.logger ?? testLogger;
  const loaded = await loadProvider('cri', {
    nodeName,
    nodeIP: '127.0.0.1',
    logger,
    signal: new AbortController().signal,
    ...(options.events ? { events: options.events } : {}),
    ...(objects ? { configMaps: objects, secrets: objects } : {}),
    config: {
      runtimeEndpoint: runtime.endpoint,
      podLogsDir: path.join(options.dir, 'pod-logs'),
      // Each test's own: a node cleans up the pod directories of pods it does not have.
      rootDir: path.join(options.dir, 'node-root'),
      callTimeoutMs: 60_000,
      ...options.providerConfig,
      ...runtime.providerConfig,
    },
  });
  const provider = options.wrapProvider ? options.wrapProvider(loaded) : loaded;
  try {
    const node = await runNode({
      nodeName,
      nodeIP: '127.0.0.1',
      provider,
      logger,
      manifestDir: options.manifestDir,
      ...(objects ? { manifestObjects: objects } : {}),
      ...(options.nodeEvents ? { events: options.nodeEvents } : {}),
      timings: options.timings ?? QUICK_TIMINGS,
      ...(options.nodeApi ? { api: testNodeApi(options.dir) } : {}),
    });
    return { provider, node };
  } catch (e) {
    await provider.close?.();
    throw e;
  }
}

/** Stops what is there, in order: the node, its provider, the runtime, the registry. */
export async function stopNodeStack(parts: {
  node?: RunningNode;
  provider?: PodProvider;
  runtime?: RuntimeUnderTest;
  registry?: TestRegistry;
}): Promise<void> {
  await parts.node?.stop();
  await parts.provider?.close?.();
  await parts.runtime?.stop();
  await parts.registry?.stop();
}

/** The sandboxes and containers the runtime holds of a pod, found by the pod UID label. */
export async function runtimeObjectsOf(runtime: RuntimeUnderTest, uid: string) {
  const cri = connectCri(runtime.endpoint);
  try {
    const filter = { labelSelector: { 'io.kubernetes.pod.uid': uid } };
    const options = { timeoutMs: 10_000 };
    const sandboxes = (await cri.runtime.listPodSandbox({ filter }, options)).items;
    const containers = (await cri.runtime.listContainers({ filter }, options)).containers;
    return { sandboxes, containers };
  } finally {
    cri.close();
  }
}

/** The IDs of what runtimeObjectsOf found, as RuntimeUnderTest.leftovers takes them. */
export function idsOf(objects: { sandboxes: { id: string }[]; containers: { id: string }[] }): {
  sandboxes: string[];
  containers: string[];
} {
  return { sandboxes: objects.sandboxes.map((s) => s.id), containers: objects.containers.map((c) => c.id) };
}

/** Asserts that the runtime left nothing on the host of these objects. */
export async function assertNoLeftovers(
  runtime: RuntimeUnderTest,
  runtimeTitle: string,
  name: string,
  known: { sandboxes: { id: string }[]; containers: { id: string }[] },
): Promise<void> {
  assert.deepEqual(await runtime.leftovers(idsOf(known)), [], `what ${runtimeTitle} left of ${name}`);
}

/**
 * Removes a static pod's manifest (`NAME.yaml`); waits until the node has no such pod and the
 * runtime holds nothing of it; asserts that the runtime left nothing on the host. Returns its UID.
 */
export async function removeManifestAndCheckGone(options: {
  runtime: RuntimeUnderTest;
  runtimeTitle: string;
  manifestDir: string;
  name: string;
  pod: () => { metadata: { uid?: string } } | undefined;
  describe: () => string;
}): Promise<string> {
  const { runtime, name, pod } = options;
  const uid = pod()!.metadata.uid!;
  const known = await runtimeObjectsOf(runtime, uid);
  await unlink(path.join(options.manifestDir, `${name}.yaml`));
  await waitFor(
    `${name}: nothing left in the runtime`,
    async () => {
      const left = await runtimeObjectsOf(runtime, uid);
      return pod() === undefined && left.sandboxes.length === 0 && left.containers.length === 0 ? true : undefined;
    },
    { timeoutMs: 30_000, describe: options.describe },
  );
  await assertNoLeftovers(runtime, options.runtimeTitle, name, known);
  return uid;
}

/** `pods: […]`: the node's pods with their status, for failure messages. */
export function podsReport(node: RunningNode | undefined): string {
  return `pods: ${JSON.stringify(
    node?.pods().map((p) => ({ name: p.metadata.name, status: p.status })),
    null,
    1,
  )}`;
}

/** `pods: […]`: the fake API server's pods with their status, for failure messages. */
export function apiPodsReport(fake: FakeApiServer | undefined): string {
  return `pods: ${JSON.stringify(
    fake?.list('pods').map((p) => ({ name: p.metadata.name, status: p.status })),
    null,
    1,
  )}`;
}

/** The last `chars` characters of the runtime's log under a heading, for failure messages. */
export function runtimeLogTail(runtimeTitle: string, runtime: RuntimeUnderTest | undefined, chars: number): string {
  return `${runtimeTitle} log tail:\n${runtime?.logs().slice(-chars) ?? ''}`;
}

/** All the log of a container so far, through the provider. */
export async function containerLogText(provider: PodProvider, podName: string, container = 'main'): Promise<string> {
  const chunks: Uint8Array[] = [];
  const stream = await provider.getContainerLogs!('default', podName, container, {}, AbortSignal.timeout(10_000));
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** `berth node --kubeconfig` run as its own process; killed with the test process where setpriv is there. */
export interface NodeProcess {
  readonly child: ChildProcess;
  /** What it wrote to stdout and stderr (the last megabyte or two). */
  log(): string;
  /** SIGTERM; resolves with its exit code. */
  terminate(): Promise<number | null>;
  /** SIGKILL, unless it has ended already. */
  kill(): Promise<void>;
}

/** The root-only socket of a node that spawnKubeconfigNode started in `dir`, as --node-api takes it. */
export function nodeSocket(dir: string): string {
  return `unix://${path.join(dir, 'node-root', 'node.sock')}`;
}

/**
 * `berth node --kubeconfig` with its HTTPS port trusting the API server's kubelet client CA
 * (--client-ca-file, written to the work folder), as a kubeadm node trusts the cluster CA.
 */
export async function spawnKubeconfigNode(options: {
  kubeconfig: string;
  /** The CA of the API server's kubelet client certificate (FakeApiServer.kubeletClientCA). */
  kubeletClientCA: string;
  runtime: RuntimeUnderTest;
  nodeName: string;
  /** The authenticated HTTPS port (a self-signed certificate); the full API is on nodeSocket(dir) too. */
  apiPort: number;
  /** The work folder: manifests, pod-logs and node-root under it. */
  dir: string;
  extraArgs?: string[];
}): Promise<NodeProcess> {
  const { dir, runtime } = options;
  const clientCaFile = path.join(dir, 'kubelet-client-ca.crt');
  await writeFile(clientCaFile, options.kubeletClientCA);
  const args = [
    BERTH,
    'node',
    '--kubeconfig',
    options.kubeconfig,
    '--runtime-endpoint',
    runtime.endpoint,
    '--node-name',
    options.nodeName,
    '--node-ip',
    '127.0.0.1',
    '--port',
    String(options.apiPort),
    '--client-ca-file',
    clientCaFile,
    '--manifests',
    path.join(dir, 'manifests'),
    '--pod-logs-dir',
    path.join(dir, 'pod-logs'),
    '--root-dir',
    path.join(dir, 'node-root'),
    '--cgroup-root',
    String(runtime.providerConfig?.cgroupParent ?? ''),
    ...(options.extraArgs ?? []),
  ];
  const child = existsSync('/usr/bin/setpriv')
    ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const append = (chunk: Buffer) => {
    log += chunk.toString('utf8');
    if (log.length > 2_000_000) log = log.slice(-1_000_000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    log: () => log,
    terminate: () => {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (!running()) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Polls a container's log (through `read`) until it holds `marker`; returns the whole text then. */
export function waitForLogText(
  what: string,
  read: () => Promise<string | undefined>,
  marker: string,
  options: { timeoutMs?: number; describe?: () => string } = {},
): Promise<string> {
  return waitFor(
    what,
    async () => {
      const text = await read();
      return text?.includes(marker) ? text : undefined;
    },
    options,
  );
}

/** A pod event as a test's recorder keeps it. */
export interface RecordedEvent {
  pod: string;
  type: string;
  reason: string;
  message: string;
  container?: string;
  at: number;
}

/** An EventRecorder for the provider's context that keeps every pod event in `events`, in order. */
export function recordingEvents(): { events: RecordedEvent[]; recorder: EventRecorder } {
  const events: RecordedEvent[] = [];
  const recorder: EventRecorder = {
    podEvent: (pod, type, reason, message, container) =>
      events.push({ pod: pod.metadata.name ?? '', type, reason, message, container, at: Date.now() }),
  };
  return { events, recorder };
}
