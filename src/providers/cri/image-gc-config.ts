// The image GC settings of the cri provider config, with the kubelet's names and defaults:
//   imageGCHighThresholdPercent 85   imageGCLowThresholdPercent 80
//   imageMinimumGCAgeMs 120000       imageGCPeriodMs 300000
import { invalidArgument } from '../../errors/errors.ts';
import { DEFAULT_IMAGE_GC_POLICY, type ImageGcPolicy } from './image-gc.ts';

function bad(key: string, problem: string): never {
  throw invalidArgument('bad-provider-config', `cri provider: ${key} ${problem}`, { fields: { key } });
}

function numberIn(config: Record<string, unknown>, key: string, fallback: number, min: number, max: number): number {
  const value = config[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max)
    bad(key, `must be a number from ${min} to ${max}`);
  return value;
}

export function imageGcPolicyFromConfig(config: Record<string, unknown>): ImageGcPolicy {
  const d = DEFAULT_IMAGE_GC_POLICY;
  const policy: ImageGcPolicy = {
    highThresholdPercent: numberIn(config, 'imageGCHighThresholdPercent', d.highThresholdPercent, 0, 100),
    lowThresholdPercent: numberIn(config, 'imageGCLowThresholdPercent', d.lowThresholdPercent, 0, 100),
    minAgeMs: numberIn(config, 'imageMinimumGCAgeMs', d.minAgeMs, 0, Number.MAX_SAFE_INTEGER),
    periodMs: numberIn(config, 'imageGCPeriodMs', d.periodMs, 1000, Number.MAX_SAFE_INTEGER),
  };
  if (policy.lowThresholdPercent > policy.highThresholdPercent) {
    bad(
      'imageGCLowThresholdPercent',
      `(${policy.lowThresholdPercent}) must not be above imageGCHighThresholdPercent (${policy.highThresholdPercent})`,
    );
  }
  return policy;
}
