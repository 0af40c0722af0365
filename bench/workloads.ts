// The workloads of issue 5, run against one runtime through berth's CRI client. Each workload
// records its figures or, when the runtime cannot run it (an RPC answers UNIMPLEMENTED, or fails),
// null and a note that says why; a failed workload never stops the others.
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ContainerState, NamespaceMode } from '../src/cri-api/gen/runtime/v1/api_pb.js';
import { isBerthError } from '../src/errors/errors.ts';
import { type CpuTimes, cpuTimes, machineCpuMs, memoryByComm, memoryOf, rssKinds, sleep, tryRun } from './host.ts';
import type { BenchImages } from './images.ts';
import { warmRegistry } from './images.ts';
import type { MetricName } from './metrics.ts';
import type { Profiler } from './profile.ts';
import type { RuntimeUnderTest } from './runtime-under-test.ts';
import { median, nowMs, percentile, round, runConcurrently, summarize } from './stats.ts';

export interface WorkloadSettings {
  /** Workload 1: pods started one after another. */
  seqPods: number;
  /** Workload 2: pods started at `concurrency`; they stay for memory, lists and exec. */
  concPods: number;
  concurrency: number;
  /** Pods started and removed before workload 1 (not measured). */
  warmupPods: number;
  /** Workload 4: ExecSync calls. */
  execs: number;
  /** Workload 5: calls of each list RPC. */
  lists: number;
  /** Workload 7: cold pulls (the median counts). */
  pullRuns: number;
  /** Profiles workloads 1, 4, 5 and 7 (the first pull) when set. */
  profiler?: Profiler;
  /**
   * The daemon's JavaScript heap, when it can be read (berth under --profile): used bytes, after a
   * full garbage collection when `collect` is true. Tells retained memory from garbage not yet collected.
   */
  heapUsage?: (collect: boolean) => Promise<{ usedKb: number; totalKb: number }>;
}

export interface RuntimeRun {
  metrics: Partial<Record<MetricName, number | null>>;
  /** Why a figure is missing, and anything else a reader must know. */
  notes: string[];
  /** Everything measured beyond the headline figures: phases, distributions, memory by process, profiles. */
  details: Record<string, unknown>;
}

const CALL = { timeoutMs: 120_000 };
const PULL = { timeoutMs: 900_000 };

interface Pod {
  id: string;
  uid: string;
  name: string;
  containers: string[];
}

interface PodStart {
  pod: Pod;
  totalMs: number;
  phases: { runPodSandbox: number; createContainer: number; startContainer: number; untilRunning: number };
}

/** The RPC that failed and why, for a note: `RunPodSandbox answers UNIMPLEMENTED`. */
export function describeFailure(e: unknown): string {
  if (isBerthError(e)) {
    const method = typeof e.fields.method === 'string' ? (e.fields.method.split('/').pop() ?? e.fields.method) : undefined;
    if (e.kind === 'unimplemented') return `${method ?? 'an RPC'} answers UNIMPLEMENTED`;
    return `${method !== undefined ? `${method}: ` : ''}${e.kind}: ${e.message}`;
  }
  return e instanceof Error ? e.message : String(e);
}

export function isUnimplemented(e: unknown): boolean {
  return isBerthError(e, 'unimplemented');
}

class PodFactory {
  readonly rt: RuntimeUnderTest;
  readonly imageRef: string;
  readonly live = new Map<string, Pod>();
  #serial = 0;

  constructor(rt: RuntimeUnderTest, imageRef: string) {
    this.rt = rt;
    this.imageRef = imageRef;
  }

  #sandboxConfig(name: string, uid: string) {
    const namespaceOptions = { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD };
    return {
      metadata: { name, uid, namespace: 'bench', attempt: 0 },
      hostname: name,
      logDirectory: path.join(this.rt.footprint.dir, 'pod-logs', `bench_${name}_${uid}`),
      labels: {
        'io.berth.bench': 'true',
        'io.kubernetes.pod.name': name,
        'io.kubernetes.pod.namespace': 'bench',
        'io.kubernetes.pod.uid': uid,
      },
      linux: { cgroupParent: this.rt.cgroupParent(uid), securityContext: { namespaceOptions } },
    };
  }

  #containerConfig(name: string) {
    const namespaceOptions = { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD };
    return {
      metadata: { name, attempt: 0 },
      image: { image: this.imageRef },
      command: ['sleep', '2147483647'],
      logPath: `${name}.log`,
      labels: { 'io.berth.bench': 'true', 'io.kubernetes.container.name': name },
      linux: { resources: {}, securityContext: { namespaceOptions } },
    };
  }

  /** RunPodSandbox + CreateContainer + StartContainer, then ContainerStatus until RUNNING. */
  async start(prefix: string): Promise<PodStart> {
    const { runtime } = this.rt.cri;
    const name = `${prefix}-${this.#serial++}`;
    const uid = randomUUID();
    const sandboxConfig = this.#sandboxConfig(name, uid);
    await mkdir(sandboxConfig.logDirectory, { recursive: true }); // the kubelet makes it before RunPodSandbox
    const t0 = nowMs();
    const { podSandboxId } = await runtime.runPodSandbox({ config: sandboxConfig, runtimeHandler: '' }, CALL);
    const t1 = nowMs();
    const pod: Pod = { id: podSandboxId, uid, name, containers: [] };
    this.live.set(podSandboxId, pod);
    const { containerId } = await runtime.createContainer({ podSandboxId, config: this.#containerConfig('sleep'), sandboxConfig }, CALL);
    pod.containers.push(containerId);
    const t2 = nowMs();
    await runtime.startContainer({ containerId }, CALL);
    const t3 = nowMs();
    await this.#untilRunning(containerId);
    const t4 = nowMs();
    return {
      pod,
      totalMs: t4 - t0,
      phases: { runPodSandbox: t1 - t0, createContainer: t2 - t1, startContainer: t3 - t2, untilRunning: t4 - t3 },
    };
  }

  async #untilRunning(containerId: string): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { status } = await this.rt.cri.runtime.containerStatus({ containerId }, CALL);
      if (status?.state === ContainerState.CONTAINER_RUNNING) return;
      if (status?.state === ContainerState.CONTAINER_EXITED)
        throw new Error(`container ${containerId} exited (${status.exitCode}): ${status.reason} ${status.message}`);
      if (Date.now() > deadline) throw new Error(`container ${containerId} not running after 60 s`);
      await sleep(2);
    }
  }

  /** A second container in a running pod (workload 5 wants pods of two containers). */
  async addSidecar(pod: Pod): Promise<void> {
    const { runtime } = this.rt.cri;
    const sandboxConfig = this.#sandboxConfig(pod.name, pod.uid);
    const { containerId } = await runtime.createContainer(
      { podSandboxId: pod.id, config: this.#containerConfig('sidecar'), sandboxConfig },
      CALL,
    );
    pod.containers.push(containerId);
    await runtime.startContainer({ containerId }, CALL);
  }

  /** StopPodSandbox + RemovePodSandbox; the time it took in ms. */
  async teardown(pod: Pod): Promise<number> {
    const { runtime } = this.rt.cri;
    const t0 = nowMs();
    await runtime.stopPodSandbox({ podSandboxId: pod.id }, CALL);
    await runtime.removePodSandbox({ podSandboxId: pod.id }, CALL);
    const ms = nowMs() - t0;
    this.live.delete(pod.id);
    return ms;
  }

  /** Removes every pod still here, best effort (after a failure). */
  async removeAll(): Promise<void> {
    await runConcurrently(this.live.size, 4, async (i) => {
      const pod = [...this.live.values()][i];
      if (pod === undefined) return;
      await this.teardown(pod).catch(() => this.live.delete(pod.id));
    }).catch(() => undefined);
    this.live.clear();
  }
}

interface OverheadSample {
  totalRssKb: number;
  totalPssKb: number;
  /** The processes counted as the daemon (RuntimeUnderTest.daemonPids), together. */
  daemonRssKb: number;
  /** The daemon's RSS by kind: anonymous (heaps), file-backed (binary, libraries), shared memory. */
  daemonRss: { anonKb: number; fileKb: number; shmemKb: number };
  processes: number;
  byCommand: ReturnType<typeof memoryByComm>;
}

async function sampleOverhead(rt: RuntimeUnderTest): Promise<OverheadSample> {
  const processes = await rt.overheadProcesses();
  const daemonPids = new Set(await rt.daemonPids());
  const samples = await memoryOf(processes);
  const kinds = await Promise.all([...daemonPids].map(rssKinds));
  return {
    totalRssKb: samples.reduce((sum, s) => sum + s.rssKb, 0),
    totalPssKb: samples.reduce((sum, s) => sum + s.pssKb, 0),
    daemonRssKb: samples.filter((s) => daemonPids.has(s.pid)).reduce((sum, s) => sum + s.rssKb, 0),
    daemonRss: {
      anonKb: kinds.reduce((sum, k) => sum + k.anonKb, 0),
      fileKb: kinds.reduce((sum, k) => sum + k.fileKb, 0),
      shmemKb: kinds.reduce((sum, k) => sum + k.shmemKb, 0),
    },
    processes: samples.length,
    byCommand: memoryByComm(samples.map((s) => (daemonPids.has(s.pid) ? { ...s, comm: `daemon (${s.comm})` } : s))),
  };
}

/** The median of `count` samples, `gapMs` apart (RSS moves with the garbage collectors). */
async function settledOverhead(rt: RuntimeUnderTest, count = 5, gapMs = 500): Promise<OverheadSample> {
  const samples: OverheadSample[] = [];
  for (let i = 0; i < count; i++) {
    if (i > 0) await sleep(gapMs);
    samples.push(await sampleOverhead(rt));
  }
  samples.sort((a, b) => a.totalRssKb - b.totalRssKb);
  return samples[Math.floor(samples.length / 2)] as OverheadSample;
}

/** CPU times of the runtime's own processes (daemon, shims or monitors) and of the whole machine. */
interface CpuSnapshot {
  daemon: CpuTimes;
  monitors: Map<number, CpuTimes>;
  machineBusyMs: number;
  /** This process: the CRI client that drives the workload. */
  clientMs: number;
}

async function cpuSnapshot(rt: RuntimeUnderTest): Promise<CpuSnapshot> {
  const processes = await rt.overheadProcesses();
  const daemonPids = await rt.daemonPids();
  const monitors = new Map<number, CpuTimes>();
  for (const p of processes) if (!daemonPids.includes(p.pid)) monitors.set(p.pid, await cpuTimes(p.pid));
  const daemon: CpuTimes = { selfMs: 0, childrenMs: 0 };
  for (const pid of daemonPids) {
    const t = await cpuTimes(pid);
    daemon.selfMs += t.selfMs;
    daemon.childrenMs += t.childrenMs;
  }
  const usage = process.cpuUsage();
  return {
    daemon,
    monitors,
    machineBusyMs: (await machineCpuMs()).busy,
    clientMs: (usage.user + usage.system) / 1000,
  };
}

/**
 * Where the CPU went between two snapshots, in ms per unit (pod, pull): the daemon itself, the
 * children it waited for (runc, CNI plugins, shim start-up), the monitors or shims still running
 * at the end (themselves and the runc calls they waited for), the benchmark's own CRI client, and
 * the whole machine (other work on the machine included).
 */
function cpuSpent(before: CpuSnapshot, after: CpuSnapshot, units: number) {
  let monitorsSelf = 0;
  let monitorsChildren = 0;
  for (const [pid, t] of after.monitors) {
    const t0 = before.monitors.get(pid) ?? { selfMs: 0, childrenMs: 0 };
    monitorsSelf += t.selfMs - t0.selfMs;
    monitorsChildren += t.childrenMs - t0.childrenMs;
  }
  const per = (ms: number) => round(ms / units, 1);
  return {
    daemonMs: per(after.daemon.selfMs - before.daemon.selfMs),
    daemonChildrenMs: per(after.daemon.childrenMs - before.daemon.childrenMs),
    monitorsMs: per(monitorsSelf),
    monitorsChildrenMs: per(monitorsChildren),
    benchClientMs: per(after.clientMs - before.clientMs),
    machineBusyMs: per(after.machineBusyMs - before.machineBusyMs),
  };
}

async function dirBytes(dir: string): Promise<number> {
  const out = await tryRun('du', ['-sb', dir], 120_000);
  return Number(out.split(/\s/)[0] ?? 0) || 0;
}

/** Runs every workload against `rt`, in the order of issue 5's needs; never throws for a workload. */
export async function runWorkloads(
  rt: RuntimeUnderTest,
  images: BenchImages,
  settings: WorkloadSettings,
  log: (line: string) => void,
): Promise<RuntimeRun> {
  const run: RuntimeRun = { metrics: {}, notes: [], details: {} };
  const set = (name: MetricName, value: number | null, digits: number): void => {
    run.metrics[name] = value === null ? null : round(value, digits);
  };
  const fail = (names: MetricName[], what: string, e: unknown): void => {
    for (const name of names) run.metrics[name] = null;
    const why = describeFailure(e);
    run.notes.push(`${what}: ${why}`);
    log(`  ${what}: ${why}`);
  };
  const { runtime, image } = rt.cri;
  run.details.version = await runtime.version({}, CALL).then(
    (v) => `${v.runtimeName} ${v.runtimeVersion} (CRI ${v.runtimeApiVersion})`,
    (e: unknown) => describeFailure(e),
  );

  // Images the pods need; containerd's sandbox image too (a kubelet-driven node has it already).
  let imageRef = images.workload;
  try {
    if (rt.preloadedImages !== undefined) {
      // In the store already: referred to by the ID ImageStatus gives, as PullImage would have.
      run.notes.push(rt.preloadedImages);
      imageRef = (await image.imageStatus({ image: { image: images.workload } }, CALL)).image?.id || images.workload;
    } else {
      const t = nowMs();
      imageRef = (await image.pullImage({ image: { image: images.workload } }, PULL)).imageRef || images.workload;
      await image.pullImage({ image: { image: images.sandbox } }, PULL);
      run.details.smallPullsMs = round(nowMs() - t, 1);
    }
  } catch (e) {
    fail([], 'pulling the workload images', e);
  }

  // Workload 6a: the idle daemon.
  await sleep(2000);
  const idle = await settledOverhead(rt);
  set('daemon_idle_rss_kb', idle.daemonRssKb, 0);
  run.details.idle = idle;
  log(`  idle: daemon ${idle.daemonRssKb} kB RSS`);

  const pods = new PodFactory(rt, imageRef);
  try {
    // Warm-up: the first pods pay for things made once (the bridge, caches); not measured.
    try {
      for (let i = 0; i < settings.warmupPods; i++) {
        const started = await pods.start('warmup');
        await pods.teardown(started.pod);
      }
    } catch (e) {
      run.notes.push(`warm-up: ${describeFailure(e)}`);
      await pods.removeAll();
    }

    // Workload 1: pods one after another; workload 3 tears them down one after another.
    const sequential: PodStart[] = [];
    try {
      const profile = await settings.profiler?.('pod-start');
      const cpu0 = await cpuSnapshot(rt);
      const t0 = nowMs();
      try {
        for (let i = 0; i < settings.seqPods; i++) sequential.push(await pods.start('seq'));
      } finally {
        const wallMs = nowMs() - t0;
        const cpu1 = await cpuSnapshot(rt);
        const profiled = await profile?.stop();
        if (sequential.length > 0) {
          run.details.podStartCpu = {
            pods: sequential.length,
            wallMs: round(wallMs, 0),
            cpuMsPerPod: cpuSpent(cpu0, cpu1, sequential.length),
          };
        }
        if (profiled !== undefined) run.details.podStartProfile = profiled;
      }
      const totals = sequential.map((s) => s.totalMs);
      set('pod_start_p50_ms', percentile(totals, 50), 1);
      set('pod_start_p99_ms', percentile(totals, 99), 1);
      run.details.podStart = summarize(totals, 1);
      run.details.podStartPhases = {
        runPodSandbox: summarize(
          sequential.map((s) => s.phases.runPodSandbox),
          1,
        ),
        createContainer: summarize(
          sequential.map((s) => s.phases.createContainer),
          1,
        ),
        startContainer: summarize(
          sequential.map((s) => s.phases.startContainer),
          1,
        ),
        untilRunning: summarize(
          sequential.map((s) => s.phases.untilRunning),
          1,
        ),
      };
      log(`  pod start (${sequential.length} one by one): p50 ${run.metrics.pod_start_p50_ms} ms, p99 ${run.metrics.pod_start_p99_ms} ms`);
    } catch (e) {
      fail(['pod_start_p50_ms', 'pod_start_p99_ms'], 'workload 1 (pod start)', e);
    }
    try {
      if (sequential.length === 0) throw new Error('no pods to tear down (workload 1 started none)');
      const teardowns: number[] = [];
      for (const { pod } of sequential) teardowns.push(await pods.teardown(pod));
      set('teardown_p50_ms', median(teardowns), 1);
      run.details.teardown = summarize(teardowns, 1);
      log(`  teardown (${teardowns.length} one by one): p50 ${run.metrics.teardown_p50_ms} ms`);
    } catch (e) {
      fail(['teardown_p50_ms'], 'workload 3 (teardown)', e);
      await pods.removeAll();
    }

    // Workload 2: pods at concurrency 8; they stay for memory, lists and exec.
    let concurrent: PodStart[] = [];
    try {
      const t0 = nowMs();
      concurrent = await runConcurrently(settings.concPods, settings.concurrency, () => pods.start('conc'));
      const wallS = (nowMs() - t0) / 1000;
      set('pods_per_second_c8', settings.concPods / wallS, 2);
      run.details.concurrentPodStart = {
        pods: settings.concPods,
        concurrency: settings.concurrency,
        wallS: round(wallS, 2),
        latency: summarize(
          concurrent.map((s) => s.totalMs),
          1,
        ),
      };
      log(`  pod start (${settings.concPods} at concurrency ${settings.concurrency}): ${run.metrics.pods_per_second_c8} pods/s`);
    } catch (e) {
      fail(['pods_per_second_c8'], 'workload 2 (pods at concurrency 8)', e);
      concurrent = [];
    }

    // Workload 6b: memory with the pods of workload 2 running.
    let heapLoaded: { usedKb: number; afterGcKb: number | undefined } | undefined;
    try {
      if (concurrent.length === 0) throw new Error('needs the running pods of workload 2');
      await sleep(3000);
      const loaded = await settledOverhead(rt);
      const perPod = (loaded.totalRssKb - idle.totalRssKb) / concurrent.length;
      set('overhead_rss_per_pod_kb', perPod, 0);
      run.details.memory = {
        pods: concurrent.length,
        containersPerPod: 1,
        idleTotalRssKb: idle.totalRssKb,
        loadedTotalRssKb: loaded.totalRssKb,
        perPodPssKb: round((loaded.totalPssKb - idle.totalPssKb) / concurrent.length, 0),
        loaded,
      };
      const heap = await settings.heapUsage?.(false).catch(() => undefined);
      if (heap !== undefined)
        heapLoaded = { usedKb: heap.usedKb, afterGcKb: (await settings.heapUsage?.(true).catch(() => undefined))?.usedKb };
      log(
        `  memory: ${loaded.totalRssKb} kB RSS in ${loaded.processes} processes with ${concurrent.length} pods: ${run.metrics.overhead_rss_per_pod_kb} kB per pod`,
      );
    } catch (e) {
      fail(['overhead_rss_per_pod_kb'], 'workload 6 (memory per pod)', e);
    }

    // Workload 5: lists with the pods at two containers each.
    try {
      if (concurrent.length === 0) throw new Error('needs the running pods of workload 2');
      const t0 = nowMs();
      await runConcurrently(concurrent.length, settings.concurrency, (i) => pods.addSidecar((concurrent[i] as PodStart).pod));
      run.details.sidecarsS = round((nowMs() - t0) / 1000, 2);
      await sleep(1000);
      const timeList = async (call: () => Promise<unknown>): Promise<number[]> => {
        for (let i = 0; i < 3; i++) await call();
        const samples: number[] = [];
        for (let i = 0; i < settings.lists; i++) {
          const t = nowMs();
          await call();
          samples.push(nowMs() - t);
        }
        return samples;
      };
      const sandboxes = await runtime.listPodSandbox({}, CALL);
      const containers = await runtime.listContainers({}, CALL);
      run.details.listed = { sandboxes: sandboxes.items.length, containers: containers.containers.length };
      const profile = await settings.profiler?.('lists');
      const listPods = await timeList(() => runtime.listPodSandbox({}, CALL));
      const listContainers = await timeList(() => runtime.listContainers({}, CALL));
      const profiled = await profile?.stop();
      if (profiled !== undefined) run.details.listsProfile = profiled;
      set('list_pod_sandbox_p50_ms', median(listPods), 2);
      set('list_containers_p50_ms', median(listContainers), 2);
      run.details.listPodSandbox = summarize(listPods, 2);
      run.details.listContainers = summarize(listContainers, 2);
      log(
        `  lists (${sandboxes.items.length} pods, ${containers.containers.length} containers): ListPodSandbox p50 ${run.metrics.list_pod_sandbox_p50_ms} ms, ListContainers p50 ${run.metrics.list_containers_p50_ms} ms`,
      );
    } catch (e) {
      fail(['list_pod_sandbox_p50_ms', 'list_containers_p50_ms'], 'workload 5 (lists)', e);
    }

    // Workload 4: ExecSync of `true` in a running container.
    try {
      const target = concurrent[0]?.pod.containers[0];
      if (target === undefined) throw new Error('needs a running container of workload 2');
      const exec = async (): Promise<number> => {
        const t = nowMs();
        const res = await runtime.execSync({ containerId: target, cmd: ['true'], timeout: 10n }, CALL);
        const ms = nowMs() - t;
        if (res.exitCode !== 0) throw new Error(`ExecSync of true exited ${res.exitCode}: ${Buffer.from(res.stderr).toString()}`);
        return ms;
      };
      for (let i = 0; i < 3; i++) await exec();
      const samples: number[] = [];
      const profile = await settings.profiler?.('exec');
      for (let i = 0; i < settings.execs; i++) samples.push(await exec());
      const profiled = await profile?.stop();
      if (profiled !== undefined) run.details.execProfile = profiled;
      set('exec_sync_p50_ms', percentile(samples, 50), 2);
      set('exec_sync_p99_ms', percentile(samples, 99), 2);
      run.details.execSync = summarize(samples, 2);
      log(`  ExecSync (${samples.length}): p50 ${run.metrics.exec_sync_p50_ms} ms, p99 ${run.metrics.exec_sync_p99_ms} ms`);
    } catch (e) {
      fail(['exec_sync_p50_ms', 'exec_sync_p99_ms'], 'workload 4 (ExecSync)', e);
    }

    // The pods of workload 2 go at concurrency 8 (reported, not a headline figure).
    if (concurrent.length > 0) {
      try {
        const t0 = nowMs();
        const times = await runConcurrently(concurrent.length, settings.concurrency, (i) => pods.teardown((concurrent[i] as PodStart).pod));
        run.details.concurrentTeardown = { pods: concurrent.length, wallS: round((nowMs() - t0) / 1000, 2), latency: summarize(times, 1) };
      } catch (e) {
        run.notes.push(`tearing down the pods of workload 2: ${describeFailure(e)}`);
      }
    }

    // The daemon's heap with the pods and without them, each after a full collection: what a pod
    // keeps in the daemon, garbage not counted (berth under --profile only).
    if (heapLoaded?.afterGcKb !== undefined && concurrent.length > 0) {
      const empty = await settings.heapUsage?.(true).catch(() => undefined);
      if (empty !== undefined) {
        run.details.daemonHeap = {
          pods: concurrent.length,
          loadedKb: heapLoaded.usedKb,
          loadedAfterGcKb: heapLoaded.afterGcKb,
          emptyAfterGcKb: empty.usedKb,
          retainedPerPodKb: round((heapLoaded.afterGcKb - empty.usedKb) / concurrent.length, 1),
        };
      }
    }
  } finally {
    await pods.removeAll();
  }

  // Workload 7: cold pull + unpack of the big image.
  try {
    await warmRegistry(images);
    const rootDir = path.join(rt.footprint.dir, 'root');
    const baseline = await dirBytes(rootDir);
    const runs: number[] = [];
    for (let i = 0; i < settings.pullRuns; i++) {
      try {
        const present = await image.imageStatus({ image: { image: images.big } }, CALL);
        if (present.image !== undefined) await image.removeImage({ image: { image: images.big } }, CALL);
        await tryRun('sync', []);
        const profile = i === 0 ? await settings.profiler?.('pull') : undefined;
        const cpu0 = await cpuSnapshot(rt);
        const t0 = nowMs();
        try {
          await image.pullImage({ image: { image: images.big } }, PULL);
          runs.push((nowMs() - t0) / 1000);
        } finally {
          const cpu1 = await cpuSnapshot(rt);
          const profiled = await profile?.stop();
          if (i === 0) run.details.pullCpuMs = cpuSpent(cpu0, cpu1, 1);
          if (profiled !== undefined) run.details.pullProfile = profiled;
        }
        const stored = await dirBytes(rootDir);
        await image.removeImage({ image: { image: images.big } }, CALL);
        const after = await dirBytes(rootDir);
        run.details.pullStore = { baselineBytes: baseline, withImageBytes: stored, afterRemoveBytes: after };
        if (after - baseline > 50_000_000 && i + 1 < settings.pullRuns) {
          run.notes.push(
            `pull: ${Math.round((after - baseline) / 1e6)} MB stayed in the store after RemoveImage; only the first pull counts as cold`,
          );
          break;
        }
      } catch (e) {
        if (runs.length === 0) throw e;
        run.notes.push(`pull run ${i + 1}: ${describeFailure(e)}; the figure is the median of the ${runs.length} runs before`);
        break;
      }
    }
    set('pull_200mb_s', median(runs), 2);
    run.details.pull = { runs: runs.map((s) => round(s, 2)), image: { ...images.bigInfo, blobs: undefined } };
    log(`  pull 200 MB (${runs.length}×): median ${run.metrics.pull_200mb_s} s [${runs.map((s) => s.toFixed(2)).join(', ')}]`);
  } catch (e) {
    fail(['pull_200mb_s'], `workload 7 (pull)${rt.preloadedImages === undefined ? '' : ', no mirror (see above)'}`, e);
  }
  return run;
}
