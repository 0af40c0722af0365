// What the node scenarios (node-scenarios.ts) need of a CRI runtime started for them: its endpoint,
// its pod network, and a way to see what it left on the host. One implementation per runtime:
// containerd (containerd-runtime.ts) and berth daemon (berth-runtime.ts).
import { readdir, readFile } from 'node:fs/promises';
import type { TestRegistry } from '../../support/registry.ts';

export interface RuntimeUnderTest {
  /** `unix:///…` */
  readonly endpoint: string;
  /** The pods' subnet (CIDR) on the runtime's own bridge. */
  readonly subnet: string;
  /** The runtime's name from Version: the scheme of Kubernetes container IDs (`containerd://…`). */
  readonly runtimeName: string;
  /** More settings for the cri provider (cgroupParent, …). */
  readonly providerConfig?: Record<string, unknown>;
  /** The runtime's log, for failure messages. */
  logs(): string;
  /**
   * What remains on the host of these sandboxes and containers beyond what the CRI lists:
   * processes, mounts, state files, IP allocations, cgroups. Empty when nothing.
   */
  leftovers(ids: { sandboxes: string[]; containers: string[] }): Promise<string[]>;
  /** Removes every sandbox, stops the runtime and cleans the host by force. Idempotent. */
  stop(): Promise<void>;
  /** Stops the runtime (SIGTERM) and starts it again on the same state; pods keep running. Where the runtime allows it. */
  restart?(): Promise<void>;
  /** After stop(): what the runtime left on the host (mounts, its bridge, NAT rules for its subnet). */
  hostLeftovers(): Promise<string[]>;
}

/**
 * Starts the runtime with registry mirrors for docker.io and registry.k8s.io pointing at `registry`,
 * which holds `library/busybox:1.36` and `pause:3.9` (the sandbox image). `subnet` gives the pods a
 * subnet of their own: two test files running at once must not share one.
 */
export type StartRuntime = (registry: TestRegistry, options?: { subnet?: string }) => Promise<RuntimeUnderTest>;

/** `10.99.` for 10.99.0.0/16, `10.94.0.` for 10.94.0.0/24: enough to recognise the subnet's addresses in text. */
export function subnetPrefix(subnet: string): string {
  const [address, bits] = subnet.split('/');
  const octets = Math.floor(Number(bits) / 8);
  return `${address!.split('.').slice(0, octets).join('.')}.`;
}

/** Processes whose command line names one of `ids`, and mount points whose path does. */
export async function processesAndMountsOf(ids: string[]): Promise<string[]> {
  const found: string[] = [];
  if (ids.length === 0) return found;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    const id = ids.find((i) => cmdline.includes(i));
    if (id !== undefined) found.push(`process ${entry} (${cmdline.slice(0, 80)})`);
  }
  for (const line of (await readFile('/proc/self/mountinfo', 'utf8')).split('\n')) {
    const point = line.split(' ')[4];
    if (point !== undefined && ids.some((i) => point.includes(i))) found.push(`mount ${point}`);
  }
  return found;
}

/** host-local IPAM allocation files (one per IP, holding the container ID) of these sandboxes. */
export async function ipAllocationsOf(ipamNetworkDir: string, sandboxIds: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const file of await readdir(ipamNetworkDir).catch(() => [] as string[])) {
    if (file === 'lock' || file.startsWith('last_reserved_ip')) continue;
    const owner = (await readFile(`${ipamNetworkDir}/${file}`, 'utf8').catch(() => '')).split('\n')[0] ?? '';
    if (sandboxIds.includes(owner.trim())) found.push(`IP allocation ${file}`);
  }
  return found;
}
