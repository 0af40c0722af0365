// What the pod and container operations need; the daemon's entry point builds it.
import type { Config } from '../config/config.ts';
import { internal } from '../errors/errors.ts';
import type { PodNetwork } from '../network/pod-network.ts';
import type { OciRuntime } from '../runtime/oci/oci-runtime.ts';
import type { HostOptions } from '../runtime/spec/spec-input.ts';
import type { PodStore } from '../store/pod-store.ts';
import type { KeyedLock } from '../util/keyed-lock.ts';
import type { Logger } from '../util/logger.ts';
import type { ContainerEventBus } from './container-events.ts';
import type { ImageDeps } from './image-deps.ts';

export interface PodDeps {
  config: Config;
  store: PodStore;
  network: PodNetwork;
  /** OCI runtimes by handler name (RuntimeClass). */
  runtimes: Map<string, OciRuntime>;
  images: ImageDeps;
  host: HostOptions;
  /** Serialises operations on one pod or container (by ID). */
  locks: KeyedLock;
  paths: {
    /** Pinned namespace files: `<state>/ns`. */
    namespaces: string;
    /** Per pod: resolv.conf, hosts, hostname, shm. */
    pod(id: string): string;
    /** Per container: the OCI bundle (config.json, rootfs). */
    container(id: string): string;
  };
  logger: Logger;
  /** Loads the default AppArmor profile before the first container that runs under it; absent where the kernel has no AppArmor. */
  appArmor?: { ensureLoaded(): Promise<void> };
  /** Where container and sandbox state changes are published (GetContainerEvents); absent: nowhere. */
  events?: ContainerEventBus;
}

export function runtimeFor(deps: PodDeps, handler: string): OciRuntime {
  const runtime = deps.runtimes.get(handler || deps.config.default_runtime);
  if (!runtime) throw internal('no-runtime-for-handler', `no runtime for handler ${handler}`);
  return runtime;
}
