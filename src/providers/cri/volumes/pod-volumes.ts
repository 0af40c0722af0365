// A pod's volumes on the node, as the kubelet's volume manager keeps them: set up (or refreshed)
// before the pod's containers start, torn down — unmounted and removed — when the pod goes, and
// swept at start for pods the runtime no longer has. The kubelet's wording is kept for failures:
// `MountVolume.SetUp failed for volume "x" : configmap "y" not found`.
import { lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Pod, Volume } from '../../../agent/k8s-types.ts';
import { podFullName, podUid } from '../../../agent/k8s-types.ts';
import type { ConfigMapSource, EventRecorder, SecretSource, ServiceAccountTokenSource } from '../../../agent/provider.ts';
import { wholeValue } from '../../../agent/quantity.ts';
import { resourceFieldValue } from '../../../agent/resource-field.ts';
import { internal, notFound, unimplemented } from '../../../errors/errors.ts';
import { listMountPoints, unmount } from '../../../snapshot/mount.ts';
import type { Logger } from '../../../util/logger.ts';
import type { SyncReasons } from '../sync-reasons.ts';
import { type FileProjection, writeAtomically } from './atomic-writer.ts';
import { memoryVolumeSize, setUpEmptyDir } from './empty-dir.ts';
import { applyFsGroup } from './fs-group.ts';
import { setUpHostPath } from './host-path.ts';
import { projectedFiles } from './projected.ts';
import { podDir, podsDir, SUPPORTED_SOURCES, volumeDir, volumePlugin } from './volume-paths.ts';
import { configMapFiles, downwardApiFiles, secretFiles } from './volume-payloads.ts';

export interface PodVolumesDeps {
  rootDir: string;
  nodeMemoryBytes: number;
  /** The node's allocatable (cpu, memory, ephemeral-storage), for resourceFieldRef and memory volumes. */
  nodeAllocatable?: Record<string, string>;
  secrets?: SecretSource;
  configMaps?: ConfigMapSource;
  /** Service account tokens for projected volumes (API-server mode). */
  tokens?: ServiceAccountTokenSource;
  reasons: SyncReasons;
  events?: EventRecorder;
  logger: Logger;
}

export interface VolumeFailure {
  volume: string;
  message: string;
  /** The volume was never set up: the pod's containers cannot start without it. */
  blocking: boolean;
}

/** The kubelet's retry of a failed mount: 500 ms doubling to 2 min 2 s. */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 122_000;
const MOUNT_FAILED_PREFIX = 'MountVolume.SetUp failed';

const inside = (dir: string, p: string) => p.startsWith(`${dir}/`);

export class PodVolumes {
  readonly #deps: PodVolumesDeps;
  readonly #failedAttempts = new Map<string, number>();

  constructor(deps: PodVolumesDeps) {
    this.#deps = deps;
  }

  get rootDir(): string {
    return this.#deps.rootDir;
  }

  #nodeMemory(): number {
    const memory = this.#deps.nodeAllocatable?.memory;
    return memory !== undefined ? wholeValue(memory) : this.#deps.nodeMemoryBytes;
  }

  async #setUpOne(pod: Pod, volume: Volume, signal: AbortSignal): Promise<void> {
    const uid = podUid(pod);
    const namespace = pod.metadata.namespace ?? 'default';
    const plugin = volumePlugin(volume);
    const dir = (p: Parameters<typeof volumeDir>[2]) => volumeDir(this.#deps.rootDir, uid, p, volume.name);
    const fsGroup = pod.spec.securityContext?.fsGroup;
    const write = async (files: Map<string, FileProjection>, target: string, tmpfsBytes?: number) => {
      await setUpEmptyDir(target, tmpfsBytes, signal);
      if ((await writeAtomically(target, files)) && fsGroup !== undefined) await applyFsGroup(target, fsGroup, true);
    };
    switch (plugin) {
      case 'empty-dir': {
        const memory = volume.emptyDir!.medium === 'Memory';
        const size = memory ? memoryVolumeSize(pod, this.#nodeMemory(), volume.emptyDir!.sizeLimit) : undefined;
        const fresh = await setUpEmptyDir(dir('empty-dir'), size, signal);
        if (fresh && fsGroup !== undefined) await applyFsGroup(dir('empty-dir'), fsGroup, false);
        return;
      }
      case 'host-path':
        return setUpHostPath(volume.hostPath!);
      case 'configmap': {
        const source = volume.configMap!;
        const name = source.name ?? '';
        const found = await this.#deps.configMaps?.getConfigMap(namespace, name, signal);
        if (found === undefined && source.optional !== true) throw notFound('configmap-not-found', `configmap "${name}" not found`);
        return write(configMapFiles(source, found), dir('configmap'));
      }
      case 'secret': {
        const source = volume.secret!;
        const name = source.secretName ?? '';
        const found = await this.#deps.secrets?.getSecret(namespace, name, signal);
        if (found === undefined && source.optional !== true) throw notFound('secret-not-found', `secret "${name}" not found`);
        return write(secretFiles(source, found), dir('secret'), memoryVolumeSize(pod, this.#nodeMemory()));
      }
      case 'downward-api': {
        const allocatable = this.#deps.nodeAllocatable ?? { memory: String(this.#deps.nodeMemoryBytes) };
        const files = downwardApiFiles(volume.downwardAPI!, pod, (selector) => resourceFieldValue(selector, pod, undefined, allocatable));
        return write(files, dir('downward-api'), memoryVolumeSize(pod, this.#nodeMemory()));
      }
      case 'projected': {
        const allocatable = this.#deps.nodeAllocatable ?? { memory: String(this.#deps.nodeMemoryBytes) };
        const { configMaps, secrets, tokens } = this.#deps;
        const resourceValue = (selector: Parameters<typeof resourceFieldValue>[0]) =>
          resourceFieldValue(selector, pod, undefined, allocatable);
        const files = await projectedFiles(pod, volume.projected!, { configMaps, secrets, tokens, resourceValue }, signal);
        return write(files, dir('projected'), memoryVolumeSize(pod, this.#nodeMemory()));
      }
      default: {
        const sources = Object.keys(volume).filter((k) => k !== 'name');
        throw unimplemented(
          'volume-source-unsupported',
          `volume source ${sources.join(', ') || '(none)'} is not supported by berth node (supported: ${SUPPORTED_SOURCES.join(', ')})`,
        );
      }
    }
  }

  /** Whether the volume was set up before (its files written once), so that a failed refresh need not stop the pod. */
  async #wasSetUp(pod: Pod, volume: Volume): Promise<boolean> {
    const plugin = volumePlugin(volume);
    if (plugin !== 'configmap' && plugin !== 'secret' && plugin !== 'downward-api' && plugin !== 'projected') return false;
    const target = volumeDir(this.#deps.rootDir, podUid(pod), plugin, volume.name);
    return lstat(path.join(target, '..data')).then(
      () => true,
      () => false,
    );
  }

  /** Sets up or refreshes every volume of the pod; what failed, with the kubelet's messages. */
  async setUp(pod: Pod, signal: AbortSignal): Promise<VolumeFailure[]> {
    const failures: VolumeFailure[] = [];
    for (const volume of pod.spec.volumes ?? []) {
      try {
        await this.#setUpOne(pod, volume, signal);
      } catch (e) {
        if (signal.aborted) throw e;
        failures.push({
          volume: volume.name,
          message: `${MOUNT_FAILED_PREFIX} for volume "${volume.name}" : ${(e as Error).message}`,
          blocking: !(await this.#wasSetUp(pod, volume)),
        });
      }
    }
    return failures;
  }

  /**
   * Sets the pod's volumes up before its containers start: a failure is recorded as a FailedMount
   * event; while a volume was never set up, the pod's containers wait (ContainerCreating, or
   * PodInitializing with init containers, with the failure as message) and the answer is when to
   * try again. Undefined: the containers may start.
   */
  async prepare(pod: Pod, signal: AbortSignal): Promise<number | undefined> {
    const uid = podUid(pod);
    const failures = await this.setUp(pod, signal);
    const { reasons, events, logger } = this.#deps;
    for (const f of failures) {
      logger.warn({ pod: podFullName(pod), uid, volume: f.volume }, f.message);
      events?.podEvent(pod, 'Warning', 'FailedMount', f.message);
    }
    const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
    const blocking = failures.filter((f) => f.blocking);
    if (blocking.length === 0) {
      this.#failedAttempts.delete(uid);
      for (const c of containers) {
        if (reasons.forPod(uid).get(c.name)?.message.startsWith(MOUNT_FAILED_PREFIX)) reasons.clear(uid, c.name);
      }
      return undefined;
    }
    const reason = (pod.spec.initContainers ?? []).length > 0 ? 'PodInitializing' : 'ContainerCreating';
    const message = blocking.map((f) => f.message).join('; ');
    for (const c of containers) reasons.set(uid, c.name, { reason, message });
    const attempts = this.#failedAttempts.get(uid) ?? 0;
    this.#failedAttempts.set(uid, attempts + 1);
    return Math.min(RETRY_BASE_MS * 2 ** attempts, RETRY_MAX_MS);
  }

  /** Unmounts everything under the pod's directory (innermost first) and removes it. Throws when something stays mounted. */
  async tearDown(uid: string, signal?: AbortSignal): Promise<void> {
    this.#failedAttempts.delete(uid);
    this.#deps.tokens?.forgetPod(uid);
    const dir = podDir(this.#deps.rootDir, uid);
    const exists = await lstat(dir).then(
      () => true,
      () => false,
    );
    if (!exists) return;
    const mounted = (await listMountPoints()).filter((m) => inside(dir, m)).sort((a, b) => b.length - a.length);
    for (const m of mounted) await unmount(m, { signal });
    const still = (await listMountPoints()).filter((m) => inside(dir, m));
    if (still.length > 0) throw internal('volume-still-mounted', `cannot remove ${dir}: still mounted: ${still.join(', ')}`);
    await rm(dir, { recursive: true, force: true });
  }

  /** Tears down the directories of pods not in `keep` (the kubelet's cleanupOrphanedPodDirs). */
  async removeOrphans(keep: ReadonlySet<string>, signal?: AbortSignal): Promise<string[]> {
    const uids = await readdir(podsDir(this.#deps.rootDir)).catch(() => [] as string[]);
    const removed: string[] = [];
    for (const uid of uids) {
      if (keep.has(uid)) continue;
      try {
        await this.tearDown(uid, signal);
        removed.push(uid);
      } catch (e) {
        this.#deps.logger.warn({ uid, err: e }, 'cannot remove the directory of an orphaned pod');
      }
    }
    return removed;
  }
}
