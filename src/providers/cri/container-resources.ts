// Container resources into CRI Linux resources, as the kubelet computes them
// (kuberuntime_container_linux.go calculateLinuxResources, qos.GetContainerOOMScoreAdjust).
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Container, Pod } from '../../agent/k8s-types.ts';
import { podQosClass } from '../../agent/pod-qos.ts';
import { milliValue, wholeValue } from '../../agent/quantity.ts';
import type { LinuxContainerResourcesSchema } from '../../cri-api/gen/runtime/v1/api_pb.js';

type LinuxResourcesInit = MessageInitShape<typeof LinuxContainerResourcesSchema>;

const MIN_SHARES = 2;
const MAX_SHARES = 262_144;
const QUOTA_PERIOD = 100_000;
const MIN_QUOTA = 1000;
export const GUARANTEED_OOM_SCORE_ADJ = -997;
export const BEST_EFFORT_OOM_SCORE_ADJ = 1000;

export function milliCpuToShares(milliCpu: number): number {
  if (milliCpu === 0) return MIN_SHARES;
  return Math.min(Math.max(Math.floor((milliCpu * 1024) / 1000), MIN_SHARES), MAX_SHARES);
}

export function milliCpuToQuota(milliCpu: number, period = QUOTA_PERIOD): number {
  if (milliCpu === 0) return 0;
  return Math.max(Math.floor((milliCpu * period) / 1000), MIN_QUOTA);
}

export function oomScoreAdj(pod: Pod, container: Container, nodeMemoryBytes: number): number {
  const qos = podQosClass(pod.spec);
  if (qos === 'Guaranteed') return GUARANTEED_OOM_SCORE_ADJ;
  if (qos === 'BestEffort') return BEST_EFFORT_OOM_SCORE_ADJ;
  const request = container.resources?.requests?.memory;
  const memoryRequest = request === undefined ? 0 : wholeValue(request);
  const adjust = 1000 - Math.floor((1000 * memoryRequest) / nodeMemoryBytes);
  if (adjust < 1000 + GUARANTEED_OOM_SCORE_ADJ) return 1000 + GUARANTEED_OOM_SCORE_ADJ;
  if (adjust === BEST_EFFORT_OOM_SCORE_ADJ) return adjust - 1;
  return adjust;
}

export interface ResourceSettings {
  nodeMemoryBytes: number;
  /** cgroup v2 (unified): the kubelet asks for memory.oom.group. */
  cgroupV2: boolean;
}

export function linuxContainerResources(pod: Pod, container: Container, settings: ResourceSettings): LinuxResourcesInit {
  const requests = container.resources?.requests ?? {};
  const limits = container.resources?.limits ?? {};
  const cpuRequest = requests.cpu ?? limits.cpu;
  const cpuLimitMilli = limits.cpu === undefined ? 0 : milliValue(limits.cpu);
  const memoryLimit = limits.memory === undefined ? 0 : wholeValue(limits.memory);
  return {
    cpuShares: BigInt(milliCpuToShares(cpuRequest === undefined ? 0 : milliValue(cpuRequest))),
    cpuPeriod: BigInt(QUOTA_PERIOD),
    cpuQuota: BigInt(milliCpuToQuota(cpuLimitMilli)),
    ...(memoryLimit > 0 ? { memoryLimitInBytes: BigInt(memoryLimit) } : {}),
    oomScoreAdj: BigInt(oomScoreAdj(pod, container, settings.nodeMemoryBytes)),
    ...(settings.cgroupV2 ? { unified: { 'memory.oom.group': '1' } } : {}),
  };
}
