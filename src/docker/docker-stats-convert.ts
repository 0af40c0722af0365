// The dockershim's stats (docker-stats.ts) as CRI ContainerStats and PodSandboxStats.
import type Docker from 'dockerode';
import { criLabels, parseContainerName, parseSandboxName } from './docker-labels.ts';
import type { DockerContainerStats, DockerPodStats, NetworkStats } from './docker-stats.ts';

const ns = (ms: number) => BigInt(Math.round(ms)) * 1_000_000n;
const u64 = (v: number | undefined) => (v === undefined ? undefined : { value: BigInt(Math.max(0, Math.round(v))) });

function cpuAndMemory(g: DockerContainerStats['cgroup']) {
  if (!g) return {};
  const timestamp = ns(g.timestamp);
  return {
    cpu: { timestamp, usageCoreNanoSeconds: u64(g.cpu.usageNs) },
    memory: {
      timestamp,
      workingSetBytes: u64(g.memory.workingSetBytes),
      availableBytes: u64(g.memory.availableBytes),
      usageBytes: u64(g.memory.usageBytes),
      rssBytes: u64(g.memory.rssBytes),
      pageFaults: u64(g.memory.pageFaults),
      majorPageFaults: u64(g.memory.majorPageFaults),
    },
  };
}

function attributesOf(i: Docker.ContainerInspectInfo, sandbox: boolean) {
  const { labels, annotations } = criLabels(i.Config.Labels);
  const metadata = sandbox ? parseSandboxName(i.Name) : parseContainerName(i.Name);
  return { id: i.Id, metadata, labels, annotations };
}

export function criContainerStats(i: Docker.ContainerInspectInfo, s: DockerContainerStats, mountpoint: string) {
  return {
    attributes: attributesOf(i, false),
    ...cpuAndMemory(s.cgroup),
    writableLayer: s.writable
      ? {
          timestamp: ns(s.writable.timestamp),
          fsId: { mountpoint },
          usedBytes: u64(s.writable.bytes),
          inodesUsed: u64(s.writable.inodes),
        }
      : undefined,
  };
}

function network(n: NetworkStats | undefined) {
  if (!n) return undefined;
  const iface = (i: NetworkStats['interfaces'][number]) => ({
    name: i.name,
    rxBytes: u64(i.rxBytes),
    rxErrors: u64(i.rxErrors),
    txBytes: u64(i.txBytes),
    txErrors: u64(i.txErrors),
  });
  return {
    timestamp: ns(n.timestamp),
    defaultInterface: n.defaultInterface ? iface(n.defaultInterface) : undefined,
    interfaces: n.interfaces.map(iface),
  };
}

export function criPodSandboxStats(
  sandbox: Docker.ContainerInspectInfo,
  pod: DockerPodStats,
  containers: ReturnType<typeof criContainerStats>[],
) {
  return {
    attributes: attributesOf(sandbox, true),
    linux: {
      ...cpuAndMemory(pod.cgroup),
      network: network(pod.network),
      process: pod.cgroup?.pids ? { timestamp: ns(pod.cgroup.timestamp), processCount: u64(pod.cgroup.pids.current) } : undefined,
      containers,
    },
  };
}
