// An example berth node provider: runs each container's command as a plain process on the node.
// No images, no isolation, no networking — a demonstration of the provider contract only. Do not
// use it for anything you do not trust to run as the node's own user.
//
//   berth node --provider ./examples/providers/process-provider.ts --manifests ./manifests
//
// It shows the parts of the contract: the factory, the lifecycle calls, status reported with the
// node's own helpers (phase and conditions), push notification of changes, and one node-API hook.
import { type ChildProcess, spawn } from 'node:child_process';
import type { ContainerStatus, Pod, PodStatus } from '../../src/agent/k8s-types.ts';
import { k8sTime } from '../../src/agent/k8s-time.ts';
import { podConditions, withTransitionTimes } from '../../src/agent/pod-conditions.ts';
import { podPhase } from '../../src/agent/pod-phase.ts';
import type { PodProvider, ProviderContext, ProviderFactory, SyncResult } from '../../src/agent/provider.ts';

interface Run {
  child?: ChildProcess;
  startedAt: number;
  finishedAt?: number;
  exitCode?: number;
  restarts: number;
  output: string[];
}

interface Entry {
  pod: Pod;
  runs: Map<string, Run>;
  conditions?: PodStatus['conditions'];
}

class ProcessProvider implements PodProvider {
  readonly #pods = new Map<string, Entry>();
  readonly #context: ProviderContext;
  #listeners: ((pod: Pod) => void)[] = [];

  constructor(context: ProviderContext) {
    this.#context = context;
  }

  async createPod(pod: Pod): Promise<SyncResult> {
    this.#pods.set(pod.metadata.uid!, { pod, runs: new Map() });
    return this.updatePod(pod);
  }

  /** Starts every container that is not running and should run, per restartPolicy. */
  async updatePod(pod: Pod): Promise<SyncResult> {
    const entry = this.#pods.get(pod.metadata.uid!) ?? { pod, runs: new Map() };
    entry.pod = pod;
    this.#pods.set(pod.metadata.uid!, entry);
    const policy = pod.spec.restartPolicy ?? 'Always';
    for (const container of pod.spec.containers) {
      const run = entry.runs.get(container.name);
      const running = run?.child !== undefined && run.exitCode === undefined;
      const restart = run === undefined || (!running && (policy === 'Always' || (policy === 'OnFailure' && run.exitCode !== 0)));
      if (!restart) continue;
      const argv = [...(container.command ?? []), ...(container.args ?? [])];
      const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? '']));
      const child = spawn(argv[0] ?? 'true', argv.slice(1), { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      const next: Run = { child, startedAt: Date.now(), restarts: run === undefined ? 0 : run.restarts + 1, output: [] };
      entry.runs.set(container.name, next);
      const keep = (chunk: Buffer) => next.output.push(chunk.toString('utf8'));
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      child.on('exit', (code, signal) => {
        next.exitCode = code ?? (signal ? 128 + 9 : 1);
        next.finishedAt = Date.now();
        this.#notify(pod.metadata.uid!);
      });
      child.on('error', (e) => {
        next.output.push(`${e.message}\n`);
      });
    }
    this.#notify(pod.metadata.uid!);
    // Ask to be called again a little later, so crashed containers restart (without back-off: it is an example).
    return { resyncAfterMs: 5000 };
  }

  async deletePod(pod: Pod): Promise<void> {
    const entry = this.#pods.get(pod.metadata.uid!);
    if (entry === undefined) return;
    const exits = [...entry.runs.values()].map((run) => {
      if (run.child === undefined || run.exitCode !== undefined) return Promise.resolve();
      return new Promise<void>((resolve) => {
        run.child!.once('exit', () => resolve());
        run.child!.kill('SIGTERM');
        setTimeout(() => run.child!.kill('SIGKILL'), (pod.spec.terminationGracePeriodSeconds ?? 30) * 1000).unref();
      });
    });
    await Promise.all(exits);
    this.#pods.delete(pod.metadata.uid!);
  }

  async getPod(namespace: string, name: string): Promise<Pod | undefined> {
    const entry = [...this.#pods.values()].find((e) => e.pod.metadata.namespace === namespace && e.pod.metadata.name === name);
    return entry === undefined ? undefined : this.#withStatus(entry);
  }

  async getPodStatus(namespace: string, name: string): Promise<PodStatus | undefined> {
    return (await this.getPod(namespace, name))?.status;
  }

  async getPods(): Promise<Pod[]> {
    return [...this.#pods.values()].map((entry) => this.#withStatus(entry));
  }

  notifyPods(onPodChanged: (pod: Pod) => void, signal: AbortSignal): void {
    this.#listeners.push(onPodChanged);
    signal.addEventListener('abort', () => {
      this.#listeners = this.#listeners.filter((l) => l !== onPodChanged);
    });
  }

  async getContainerLogs(namespace: string, podName: string, containerName: string): Promise<AsyncIterable<Uint8Array>> {
    const entry = [...this.#pods.values()].find((e) => e.pod.metadata.namespace === namespace && e.pod.metadata.name === podName);
    const output = entry?.runs.get(containerName)?.output ?? [];
    return (async function* () {
      for (const chunk of output) yield Buffer.from(chunk);
    })();
  }

  #notify(uid: string): void {
    const entry = this.#pods.get(uid);
    if (entry === undefined) return;
    const pod = this.#withStatus(entry);
    for (const listener of this.#listeners) listener(pod);
  }

  #withStatus(entry: Entry): Pod {
    const { pod } = entry;
    const statuses: ContainerStatus[] = pod.spec.containers.map((container) => {
      const run = entry.runs.get(container.name);
      const base = { name: container.name, lastState: {}, restartCount: run?.restarts ?? 0, image: container.image ?? '', imageID: '' };
      if (run === undefined) return { ...base, state: { waiting: { reason: 'ContainerCreating' } }, ready: false };
      if (run.exitCode === undefined) return { ...base, state: { running: { startedAt: k8sTime(run.startedAt) } }, ready: true, started: true };
      const terminated = {
        exitCode: run.exitCode,
        reason: run.exitCode === 0 ? 'Completed' : 'Error',
        startedAt: k8sTime(run.startedAt),
        finishedAt: k8sTime(run.finishedAt ?? Date.now()),
      };
      return { ...base, state: { terminated }, ready: false };
    });
    const phase = podPhase(pod.spec, [], statuses);
    entry.conditions = withTransitionTimes(podConditions({ spec: pod.spec, phase, initStatuses: [], statuses, sandboxReady: true }), entry.conditions, k8sTime());
    const hostIP = this.#context.nodeIP;
    return {
      ...pod,
      status: {
        phase,
        conditions: entry.conditions,
        ...(hostIP ? { hostIP, podIP: hostIP } : {}),
        containerStatuses: statuses,
      },
    };
  }
}

/** The factory berth node calls; `context.config` carries this provider's settings (none here). */
export const createProvider: ProviderFactory = (context) => {
  context.logger.warn('the process provider runs pod commands as plain processes on this node: for demonstrations only');
  return new ProcessProvider(context);
};
