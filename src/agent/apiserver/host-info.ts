// What the node reports about its host in the Node object: system identifiers and versions,
// capacity (CPUs, memory, pods, disk) and the pressure conditions with the kubelet's default
// hard eviction thresholds (memory.available < 100Mi, nodefs.available < 10%).
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import type { NodeSystemInfo } from '../k8s-types.ts';

/** The Kubernetes version whose API berth node speaks, as the kubelet reports its own. */
export const KUBELET_VERSION = 'v1.31.0-berth';
/** The kubelet's default --max-pods. */
export const DEFAULT_MAX_PODS = 110;
const MEMORY_EVICTION_BYTES = 100 * 1024 * 1024;
const DISK_EVICTION_FRACTION = 0.1;

export interface HostInfo {
  hostname: string;
  systemInfo: Omit<NodeSystemInfo, 'containerRuntimeVersion'>;
  capacity: Record<string, string>;
  memoryAvailableBytes: number;
  diskAvailableFraction: number;
}

async function readTrimmed(file: string): Promise<string> {
  return (await readFile(file, 'utf8').catch(() => '')).trim();
}

/** Node's name for the CPU architecture as Go (and Kubernetes) names it: x64 → amd64. */
export function goArch(arch: string = process.arch): string {
  return (
    (
      { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<
        string,
        string
      >
    )[arch] ?? arch
  );
}

async function osImage(): Promise<string> {
  const text = await readTrimmed('/etc/os-release');
  const m = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(text);
  return m?.[1] ?? 'Linux';
}

async function memoryAvailableBytes(): Promise<number> {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(await readTrimmed('/proc/meminfo'));
  return m ? Number(m[1]) * 1024 : os.freemem();
}

/** The host's facts now; `diskPath` is the filesystem that holds the node's data (kubelet: its root dir). */
export async function hostInfo(diskPath = '/'): Promise<HostInfo> {
  const disk = await statfs(diskPath).catch(() => undefined);
  const diskBytes = disk ? disk.blocks * disk.bsize : 0;
  const capacity: Record<string, string> = {
    cpu: String(os.availableParallelism()),
    memory: `${Math.floor(os.totalmem() / 1024)}Ki`,
    pods: String(DEFAULT_MAX_PODS),
  };
  if (diskBytes > 0) capacity['ephemeral-storage'] = `${Math.floor(diskBytes / 1024)}Ki`;
  return {
    hostname: os.hostname().toLowerCase(),
    systemInfo: {
      machineID: await readTrimmed('/etc/machine-id'),
      systemUUID: (await readTrimmed('/sys/class/dmi/id/product_uuid')).toLowerCase(),
      bootID: await readTrimmed('/proc/sys/kernel/random/boot_id'),
      kernelVersion: os.release(),
      osImage: await osImage(),
      kubeletVersion: KUBELET_VERSION,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: goArch(process.arch),
    },
    capacity,
    memoryAvailableBytes: await memoryAvailableBytes(),
    diskAvailableFraction: disk && disk.blocks > 0 ? disk.bavail / disk.blocks : 1,
  };
}

export function memoryPressure(info: HostInfo): boolean {
  return info.memoryAvailableBytes < MEMORY_EVICTION_BYTES;
}

export function diskPressure(info: HostInfo): boolean {
  return info.diskAvailableFraction < DISK_EVICTION_FRACTION;
}
