// Version, Status and RuntimeConfig: what the kubelet asks first, and every few seconds after.
import { readFileSync } from 'node:fs';
import type { Config } from '../config/config.ts';
import { loadDefaultNetwork, missingPlugins } from '../network/cni-config.ts';

export const RUNTIME_NAME = 'berth';
export const RUNTIME_VERSION: string = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version;
export const KUBELET_API_VERSION = '0.1.0';
export const CRI_API_VERSION = 'v1';

export interface Condition {
  type: 'RuntimeReady' | 'NetworkReady';
  status: boolean;
  reason: string;
  message: string;
}

export async function networkCondition(config: Config): Promise<Condition> {
  try {
    const net = await loadDefaultNetwork(config.cni.conf_dir);
    const missing = await missingPlugins(net, config.cni.bin_dirs);
    if (missing.length > 0) {
      return {
        type: 'NetworkReady',
        status: false,
        reason: 'NetworkPluginNotReady',
        message: `CNI plugins not found in ${config.cni.bin_dirs.join(', ')}: ${missing.join(', ')}`,
      };
    }
    return { type: 'NetworkReady', status: true, reason: '', message: '' };
  } catch (e) {
    return { type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: (e as Error).message };
  }
}

export async function runtimeConditions(config: Config): Promise<Condition[]> {
  return [{ type: 'RuntimeReady', status: true, reason: '', message: '' }, await networkCondition(config)];
}

/**
 * What each runtime handler can do (CRI RuntimeHandlerFeatures): user namespaces, as the OCI
 * runtimes (runc, crun) take them (src/runtime/spec/user-namespace.ts); recursive read-only mounts
 * are not built.
 */
export function handlerFeatures(): { recursiveReadOnlyMounts: boolean; userNamespaces: boolean } {
  return { recursiveReadOnlyMounts: false, userNamespaces: true };
}
