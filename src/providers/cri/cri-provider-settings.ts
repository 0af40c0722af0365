// Everything the CRI provider is configured with, already resolved (no defaults applied here).
import type { LogRotationPolicy } from './container-log-rotation.ts';
import type { ImageGcPolicy } from './image-gc.ts';

export interface CriProviderSettings {
  nodeName: string;
  /** Reported as status.hostIP and used by the downward API. */
  nodeIP?: string;
  /** The node's own directory (kubelet --root-dir): pod volumes under `<rootDir>/pods/<uid>`. */
  rootDir: string;
  /** Where pod log directories go (kubelet: /var/log/pods). */
  podLogsRoot: string;
  /** Parent cgroup for pods; empty leaves it to the runtime. */
  cgroupParent: string;
  /** Cluster DNS servers (kubelet --cluster-dns); empty in standalone mode. */
  clusterDns: string[];
  clusterDomain: string;
  /** The host's resolver file for dnsPolicy Default (kubelet --resolv-conf); empty for none. */
  resolvConf: string;
  nodeMemoryBytes: number;
  /** The node's allocatable resources as the Node reports them (cpu, memory, ephemeral-storage): the limits resourceFieldRef sees when a container sets none. */
  nodeAllocatable?: Record<string, string>;
  cgroupV2: boolean;
  /** Deadline for ordinary CRI calls (kubelet --runtime-request-timeout, 2 min). */
  callTimeoutMs: number;
  pullTimeoutMs: number;
  /** The runtime's name from Version, the scheme of container IDs (`containerd://…`). */
  runtimeName: string;
  /** How long to wait before retrying a container that could not be created or started. */
  containerErrorRetryMs: number;
  /** When and which unused images are removed (the kubelet's image GC policy). */
  imageGc: ImageGcPolicy;
  /** When container logs are rotated and how many files are kept (the kubelet's log manager). */
  logRotation: LogRotationPolicy;
}
