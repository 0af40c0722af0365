// Builds the pod subsystem from the config: runtimes per handler, the CNI network, the pod store;
// then reconciles what the records say with what runs.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { CniPodNetwork } from '../network/pod-network.ts';
import { AppArmorProfileLoader } from '../runtime/apparmor-profile.ts';
import { ConmonRuntime } from '../runtime/oci/conmon-runtime.ts';
import type { OciRuntime } from '../runtime/oci/oci-runtime.ts';
import { DEFAULT_APPARMOR_PROFILE } from '../runtime/spec/apparmor.ts';
import { detectHostOptions } from '../runtime/spec/host-features.ts';
import { newContainerEventBus } from '../services/container-events.ts';
import type { ImageDeps } from '../services/image-deps.ts';
import type { PodDeps } from '../services/pod-deps.ts';
import { recoverPods } from '../services/pod-recover.ts';
import type { MetadataStore } from '../store/metadata-store.ts';
import { PodStore } from '../store/pod-store.ts';
import { KeyedLock } from '../util/keyed-lock.ts';
import type { Logger } from '../util/logger.ts';

/** Where a runtime handler keeps its containers' state (`runc --root`). */
export function runtimeRoot(config: Config, handler: string): string {
  return path.join(config.state, 'runtimes', handler);
}

export async function openPodSubsystem(config: Config, meta: MetadataStore, images: ImageDeps, logger: Logger): Promise<PodDeps> {
  const log = logger.child({ component: 'pods' });
  const runtimes = new Map<string, OciRuntime>();
  for (const [name, { binary }] of Object.entries(config.runtimes)) {
    runtimes.set(
      name,
      new ConmonRuntime({
        runtimePath: binary,
        runtimeRoot: runtimeRoot(config, name),
        conmonPath: config.conmon,
        stateDir: path.join(config.state, 'monitors', name),
        logger: log.child({ runtime: name }),
        vulnerableRuntime: config.vulnerable_runtime,
      }),
    );
  }
  const dirs = {
    namespaces: path.join(config.state, 'ns'),
    pods: path.join(config.state, 'pods'),
    containers: path.join(config.state, 'containers'),
  };
  for (const d of Object.values(dirs)) await mkdir(d, { recursive: true, mode: 0o711 });
  const host = { ...(await detectHostOptions()), cgroupDriver: config.cgroup_driver, seccompProfileRoot: config.seccomp_profile_root };
  const deps: PodDeps = {
    config,
    store: new PodStore(meta),
    network: new CniPodNetwork({ confDir: config.cni.conf_dir, binDirs: config.cni.bin_dirs, cacheDir: path.join(config.root, 'cni') }),
    runtimes,
    images,
    host,
    locks: new KeyedLock(),
    paths: {
      namespaces: dirs.namespaces,
      pod: (id) => path.join(dirs.pods, id),
      container: (id) => path.join(dirs.containers, id),
    },
    logger: log,
    ...(host.apparmorEnabled
      ? { appArmor: new AppArmorProfileLoader({ name: DEFAULT_APPARMOR_PROFILE, logger: log.child({ component: 'apparmor' }) }) }
      : {}),
    events: newContainerEventBus(config.container_events_buffer),
  };
  await recoverPods(deps);
  return deps;
}
