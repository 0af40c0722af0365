// The ConfigMaps and Secrets of the manifest folder, for providers in standalone mode: the folder
// scan replaces the whole set each time, lookups read the latest set. Objects keep their names
// (static pods get the node's name appended; the objects they refer to do not).
import type { ConfigMap, Secret } from '../k8s-types.ts';
import type { ConfigMapSource, SecretSource } from '../provider.ts';
import type { ManifestObject } from './manifest-object.ts';

const key = (namespace: string, name: string) => `${namespace}/${name}`;

export class ManifestObjectStore implements ConfigMapSource, SecretSource {
  #configMaps = new Map<string, ConfigMap>();
  #secrets = new Map<string, Secret>();

  /** Replaces every object with `objects` (names unique per kind and namespace). */
  replace(objects: ManifestObject[]): void {
    const configMaps = new Map<string, ConfigMap>();
    const secrets = new Map<string, Secret>();
    for (const object of objects) {
      const at = key(object.metadata.namespace ?? 'default', object.metadata.name ?? '');
      if (object.kind === 'Secret') secrets.set(at, object);
      else configMaps.set(at, object as ConfigMap);
    }
    this.#configMaps = configMaps;
    this.#secrets = secrets;
  }

  async getConfigMap(namespace: string, name: string, signal: AbortSignal): Promise<ConfigMap | undefined> {
    signal.throwIfAborted();
    const found = this.#configMaps.get(key(namespace, name));
    return found === undefined ? undefined : structuredClone(found);
  }

  async getSecret(namespace: string, name: string, signal: AbortSignal): Promise<Secret | undefined> {
    signal.throwIfAborted();
    const found = this.#secrets.get(key(namespace, name));
    return found === undefined ? undefined : structuredClone(found);
  }
}
