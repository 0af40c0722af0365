// The `cri` provider module: `createProvider(context)` connects to the CRI endpoint named in the
// provider config and returns a CriProvider. Config keys (all optional):
//   runtimeEndpoint  unix:///run/berth/berth.sock   imageEndpoint  (the runtime endpoint)
//   podLogsDir       /var/log/pods                  cgroupParent   ""
//   clusterDNS       []                             clusterDomain  "cluster.local"
//   resolvConf       /etc/resolv.conf               callTimeoutMs  120000
//   pullTimeoutMs    600000                         rootDir        /var/lib/berth/node
//   image GC: imageGCHighThresholdPercent 85, imageGCLowThresholdPercent 80, imageMinimumGCAgeMs
//   120000, imageGCPeriodMs 300000 (image-gc-config.ts)
//   log rotation: containerLogMaxSize "10Mi", containerLogMaxFiles 5, containerLogMonitorIntervalMs
//   10000 (container-log-rotation.ts)
import { existsSync } from 'node:fs';
import { totalmem } from 'node:os';
import path from 'node:path';
import { hostInfo } from '../../agent/apiserver/host-info.ts';
import type { PodProvider, ProviderContext, ProviderFactory } from '../../agent/provider.ts';
import { connectCri } from '../../cri/cri-client.ts';
import { invalidArgument } from '../../errors/errors.ts';
import { logRotationPolicyFromConfig } from './container-log-rotation.ts';
import { CriProvider } from './cri-provider.ts';
import type { CriProviderSettings } from './cri-provider-settings.ts';
import { imageGcPolicyFromConfig } from './image-gc-config.ts';

export const DEFAULT_RUNTIME_ENDPOINT = 'unix:///run/berth/berth.sock';
/** The node's directory for pod volumes (the kubelet's --root-dir, /var/lib/kubelet). */
export const DEFAULT_ROOT_DIR = '/var/lib/berth/node';

function stringSetting(config: Record<string, unknown>, key: string, fallback: string): string {
  const value = config[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw invalidArgument('bad-provider-config', `cri provider: ${key} must be a string`, { fields: { key } });
  return value;
}

function numberSetting(config: Record<string, unknown>, key: string, fallback: number): number {
  const value = config[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0))
    throw invalidArgument('bad-provider-config', `cri provider: ${key} must be a positive number`, { fields: { key } });
  return value;
}

function stringListSetting(config: Record<string, unknown>, key: string): string[] {
  const value = config[key];
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw invalidArgument('bad-provider-config', `cri provider: ${key} must be a list of strings`, { fields: { key } });
  }
  return value;
}

export const createProvider: ProviderFactory = async (context: ProviderContext): Promise<PodProvider> => {
  const { config, logger } = context;
  const runtimeEndpoint = stringSetting(config, 'runtimeEndpoint', DEFAULT_RUNTIME_ENDPOINT);
  const imageEndpoint = stringSetting(config, 'imageEndpoint', runtimeEndpoint);
  const callTimeoutMs = numberSetting(config, 'callTimeoutMs', 120_000);
  const imageGc = imageGcPolicyFromConfig(config);
  const logRotation = logRotationPolicyFromConfig(config);
  const cri = connectCri(runtimeEndpoint, imageEndpoint);
  try {
    const version = await cri.runtime.version({ version: 'v1' }, { signal: context.signal, timeoutMs: Math.min(callTimeoutMs, 30_000) });
    logger.info({ runtimeEndpoint, runtime: version.runtimeName, version: version.runtimeVersion }, 'connected to the container runtime');
    const settings: CriProviderSettings = {
      nodeName: context.nodeName,
      nodeIP: context.nodeIP,
      rootDir: path.resolve(stringSetting(config, 'rootDir', DEFAULT_ROOT_DIR)),
      podLogsRoot: stringSetting(config, 'podLogsDir', '/var/log/pods'),
      cgroupParent: stringSetting(config, 'cgroupParent', ''),
      clusterDns: stringListSetting(config, 'clusterDNS'),
      clusterDomain: stringSetting(config, 'clusterDomain', 'cluster.local'),
      resolvConf: stringSetting(config, 'resolvConf', '/etc/resolv.conf'),
      nodeMemoryBytes: totalmem(),
      nodeAllocatable: (await hostInfo()).capacity,
      cgroupV2: existsSync('/sys/fs/cgroup/cgroup.controllers'),
      callTimeoutMs,
      pullTimeoutMs: numberSetting(config, 'pullTimeoutMs', 600_000),
      runtimeName: version.runtimeName || 'cri',
      containerErrorRetryMs: 10_000,
      imageGc,
      logRotation,
    };
    return new CriProvider({
      cri,
      settings,
      logger: logger.child({ provider: 'cri' }),
      events: context.events,
      secrets: context.secrets,
      configMaps: context.configMaps,
      tokens: context.tokens,
      services: context.services,
    });
  } catch (e) {
    cri.close();
    throw e;
  }
};
