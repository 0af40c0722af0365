// The pods' part of the Summary API from the CRI, as the kubelet's CRI stats provider builds it:
// ListPodSandboxStats (pod and container figures in one call), or ListContainerStats summed per
// pod when the runtime does not implement pod stats or cannot give them (containerd 1.6 fails for
// sandboxes without a cgroup parent). CPU use in nanocores is the runtime's when it
// gives one, else the rate since the previous reading of the same container.

import { k8sTime } from '../../agent/k8s-time.ts';
import type { CpuStats, MemoryStats, PodStats, ContainerStats as SummaryContainerStats } from '../../agent/stats-summary.ts';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import type { ContainerStats, CpuUsage, MemoryUsage } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { isBerthError } from '../../errors/errors.ts';
import { CONTAINER_NAME_LABEL } from './kubelet-labels.ts';
import type { ObservedPod } from './runtime-reader.ts';

interface CpuReading {
  at: bigint;
  total: bigint;
}

function value(v: { value: bigint } | undefined): number | undefined {
  return v === undefined ? undefined : Number(v.value);
}

function timeOf(ns: bigint): string {
  return ns > 0n ? k8sTime(Number(ns / 1_000_000n)) : k8sTime();
}

export class CriStatsReader {
  readonly #runtime: RuntimeClient;
  readonly #timeoutMs: number;
  readonly #cpu = new Map<string, CpuReading>();
  #podStatsUnimplemented = false;

  constructor(runtime: RuntimeClient, callTimeoutMs: number) {
    this.#runtime = runtime;
    this.#timeoutMs = callTimeoutMs;
  }

  #cpuStats(id: string, cpu: CpuUsage | undefined, seen: Set<string>): CpuStats | undefined {
    if (cpu === undefined) return undefined;
    seen.add(id);
    const total = cpu.usageCoreNanoSeconds?.value;
    let nanoCores = value(cpu.usageNanoCores);
    if (total !== undefined) {
      const previous = this.#cpu.get(id);
      if (
        (nanoCores === undefined || nanoCores === 0) &&
        previous !== undefined &&
        cpu.timestamp > previous.at &&
        total >= previous.total
      ) {
        nanoCores = Math.round((Number(total - previous.total) / Number(cpu.timestamp - previous.at)) * 1e9);
      }
      this.#cpu.set(id, { at: cpu.timestamp, total });
    }
    return { time: timeOf(cpu.timestamp), usageNanoCores: nanoCores, usageCoreNanoSeconds: value(cpu.usageCoreNanoSeconds) };
  }

  #memoryStats(memory: MemoryUsage | undefined): MemoryStats | undefined {
    if (memory === undefined) return undefined;
    return {
      time: timeOf(memory.timestamp),
      availableBytes: value(memory.availableBytes),
      usageBytes: value(memory.usageBytes),
      workingSetBytes: value(memory.workingSetBytes),
      rssBytes: value(memory.rssBytes),
      pageFaults: value(memory.pageFaults),
      majorPageFaults: value(memory.majorPageFaults),
    };
  }

  #containers(pod: ObservedPod, stats: ContainerStats[], seen: Set<string>): SummaryContainerStats[] {
    const out: SummaryContainerStats[] = [];
    for (const s of stats) {
      const id = s.attributes?.id ?? '';
      const observed = pod.containers.find((c) => c.id === id);
      // Only the running instance of each container, as the kubelet reports them.
      if (observed === undefined || observed.state !== 'running') continue;
      const name = s.attributes?.metadata?.name || s.attributes?.labels[CONTAINER_NAME_LABEL] || observed.name;
      out.push({
        name,
        startTime: k8sTime(observed.createdAt),
        cpu: this.#cpuStats(id, s.cpu, seen),
        memory: this.#memoryStats(s.memory),
        rootfs:
          s.writableLayer === undefined
            ? undefined
            : {
                time: timeOf(s.writableLayer.timestamp),
                usedBytes: value(s.writableLayer.usedBytes),
                inodesUsed: value(s.writableLayer.inodesUsed),
              },
      });
    }
    return out.toSorted((a, b) => a.name.localeCompare(b.name));
  }

  /** Stats of the pods in `pods` whose sandbox is ready. */
  async read(pods: Map<string, ObservedPod>, signal: AbortSignal): Promise<PodStats[]> {
    const options = { signal, timeoutMs: this.#timeoutMs };
    const seen = new Set<string>();
    const bySandbox = new Map<string, ObservedPod>();
    for (const pod of pods.values()) {
      const sandbox = pod.sandboxes[0];
      if (sandbox?.ready) bySandbox.set(sandbox.id, pod);
    }
    const result: PodStats[] = [];
    const entry = (pod: ObservedPod, sandboxId: string): PodStats => ({
      podRef: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
      startTime: k8sTime(pod.sandboxes.find((s) => s.id === sandboxId)?.createdAt ?? Date.now()),
      containers: [],
    });
    if (!this.#podStatsUnimplemented) {
      try {
        // An empty filter, not none: containerd 1.6 then skips sandboxes that are not ready.
        const { stats } = await this.#runtime.listPodSandboxStats({ filter: {} }, options);
        for (const s of stats) {
          const id = s.attributes?.id ?? '';
          const pod = bySandbox.get(id);
          if (pod === undefined) continue;
          const podStats = entry(pod, id);
          podStats.cpu = this.#cpuStats(`pod:${id}`, s.linux?.cpu, seen);
          podStats.memory = this.#memoryStats(s.linux?.memory);
          podStats.containers = this.#containers(pod, s.linux?.containers ?? [], seen);
          result.push(podStats);
        }
        this.#forgetUnseen(seen);
        return result;
      } catch (e) {
        // containerd 1.6 cannot measure a sandbox without a cgroup parent: the container figures still come.
        if (isBerthError(e, 'unimplemented')) this.#podStatsUnimplemented = true;
        result.length = 0;
      }
    }
    const { stats } = await this.#runtime.listContainerStats({}, options);
    for (const [sandboxId, pod] of bySandbox) {
      const podStats = entry(pod, sandboxId);
      const mine = stats.filter((s) => pod.containers.some((c) => c.id === s.attributes?.id && c.sandboxId === sandboxId));
      podStats.containers = this.#containers(pod, mine, seen);
      podStats.cpu = sumCpu(podStats.containers);
      podStats.memory = sumMemory(podStats.containers);
      result.push(podStats);
    }
    this.#forgetUnseen(seen);
    return result;
  }

  #forgetUnseen(seen: Set<string>): void {
    for (const id of this.#cpu.keys()) if (!seen.has(id)) this.#cpu.delete(id);
  }
}

function sum(values: (number | undefined)[]): number | undefined {
  const present = values.filter((v): v is number => v !== undefined);
  return present.length === 0 ? undefined : present.reduce((a, b) => a + b, 0);
}

function sumCpu(containers: SummaryContainerStats[]): CpuStats | undefined {
  const cpus = containers.flatMap((c) => (c.cpu ? [c.cpu] : []));
  if (cpus.length === 0) return undefined;
  return {
    time: cpus[0]!.time,
    usageNanoCores: sum(cpus.map((c) => c.usageNanoCores)),
    usageCoreNanoSeconds: sum(cpus.map((c) => c.usageCoreNanoSeconds)),
  };
}

function sumMemory(containers: SummaryContainerStats[]): MemoryStats | undefined {
  const mems = containers.flatMap((c) => (c.memory ? [c.memory] : []));
  if (mems.length === 0) return undefined;
  return {
    time: mems[0]!.time,
    usageBytes: sum(mems.map((m) => m.usageBytes)),
    workingSetBytes: sum(mems.map((m) => m.workingSetBytes)),
    rssBytes: sum(mems.map((m) => m.rssBytes)),
  };
}
