// The dockershim's stats (docker-stats.ts) as CRI ContainerStats and PodSandboxStats.
import type Docker from 'dockerode';
import { criCpuAndMemory, criNanos as ns, criUInt64 as u64 } from '../cri-api/cri-stats.ts';
import { criLabels, parseContainerName, parseSandboxName } from './docker-labels.ts';
import type { DockerContainerStats, DockerPodStats, NetworkStats } from './docker-stats.ts';

function attributesOf(i: Docker.ContainerInspectInfo, sandbox: boolean) {
  const { labels, annotations } = criLabels(i.Config.Labels);
  const metadata = sandbox ? parseSandboxName(i.Name) : parseContainerName(i.Name);
  return { id: i.Id, metadata, labels, annotations };
}

export function criContainerStats(i: Docker.ContainerInspectInfo, s: DockerContainerStats, mountpoint: string) {
  return {
    attributes: attributesOf(i, false),
    ...criCpuAndMemory(s.cgroup),
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
      ...criCpuAndMemory(pod.cgroup),
      network: network(pod.network),
      process: pod.cgroup?.pids ? { timestamp: ns(pod.cgroup.timestamp), processCount: u64(pod.cgroup.pids.current) } : undefined,
      containers,
    },
  };
}
