// Where a pod's volumes live on the node, laid out as the kubelet lays them out under its root
// directory: `<root>/pods/<uid>/volumes/kubernetes.io~<plugin>/<volume>`.
import path from 'node:path';
import type { Volume } from '../../../agent/k8s-types.ts';

export type VolumePlugin = 'empty-dir' | 'configmap' | 'secret' | 'downward-api' | 'projected' | 'host-path';

/** The plugin that serves a volume, or undefined when berth has none for its source. */
export function volumePlugin(volume: Volume): VolumePlugin | undefined {
  if (volume.emptyDir !== undefined) return 'empty-dir';
  if (volume.configMap !== undefined) return 'configmap';
  if (volume.secret !== undefined) return 'secret';
  if (volume.downwardAPI !== undefined) return 'downward-api';
  if (volume.projected !== undefined) return 'projected';
  if (volume.hostPath !== undefined) return 'host-path';
  return undefined;
}

/** The volume sources berth can set up, as the API names them. */
export const SUPPORTED_SOURCES = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected'] as const;

export function podsDir(rootDir: string): string {
  return path.join(rootDir, 'pods');
}

export function podDir(rootDir: string, uid: string): string {
  return path.join(podsDir(rootDir), uid);
}

export function podVolumesDir(rootDir: string, uid: string): string {
  return path.join(podDir(rootDir, uid), 'volumes');
}

export function volumeDir(rootDir: string, uid: string, plugin: VolumePlugin, name: string): string {
  return path.join(podVolumesDir(rootDir, uid), `kubernetes.io~${plugin}`, name);
}

/** The host path a volume is mounted from: the hostPath's own path, else its directory under the pod. */
export function volumeHostPath(rootDir: string, uid: string, volume: Volume): string | undefined {
  const plugin = volumePlugin(volume);
  if (plugin === undefined) return undefined;
  if (plugin === 'host-path') return volume.hostPath!.path;
  return volumeDir(rootDir, uid, plugin, volume.name);
}
