// One sync of one pod over the CRI (the kubelet's kuberuntime SyncPod): observe, compute the
// actions, kill what must go, create the sandbox if needed, start the next init container or the
// app containers (each with its restart back-off and image pull), collect dead containers.
import { mkdir, readFile } from 'node:fs/promises';
import { containerEnv, type EnvSources, type NamedValue } from '../../agent/container-env.ts';
import type { Container, Pod } from '../../agent/k8s-types.ts';
import { podFullName, podUid } from '../../agent/k8s-types.ts';
import { parseResolvConf, podDnsConfig, type ResolverConfig } from '../../agent/pod-dns.ts';
import type { EventRecorder, SyncResult } from '../../agent/provider.ts';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import type { Logger } from '../../util/logger.ts';
import { containerConfig } from './container-config.ts';
import { containerHash } from './container-hash.ts';
import { type BackOff, goDuration } from './crash-back-off.ts';
import type { CriProviderSettings } from './cri-provider-settings.ts';
import type { ImagePuller } from './image-puller.ts';
import { sidecarNames } from './init-container-actions.ts';
import { kubeletFileMounts } from './kubelet-file-mounts.ts';
import type { LifecycleHooks } from './lifecycle-hooks.ts';
import { computePodActions, garbageToCollect, type StartupCheck } from './pod-actions.ts';
import { gracePeriodSeconds, removeContainers, removeSandboxes, stopContainer, stopPod } from './pod-teardown.ts';
import type { ObservedPod, RuntimeReader } from './runtime-reader.ts';
import { newestContainer, newestExitedContainer } from './runtime-state.ts';
import { type PodSandboxConfigInit, podLogDirectory, sandboxConfig } from './sandbox-config.ts';
import { runAsNonRootViolation } from './security-context.ts';
import type { SyncReasons } from './sync-reasons.ts';
import { type CriMount, containerMounts } from './volumes/container-mounts.ts';
import type { PodVolumes } from './volumes/pod-volumes.ts';

export interface PodSyncDeps {
  runtime: RuntimeClient;
  reader: RuntimeReader;
  puller: ImagePuller;
  crashBackOff: BackOff;
  reasons: SyncReasons;
  settings: CriProviderSettings;
  logger: Logger;
  now: () => number;
  events?: EventRecorder;
  /** The pods' ConfigMaps and Secrets and the node's allocatable, for env valueFrom and envFrom. */
  envSources?: EnvSources;
  /** The pods' volumes: set up before their containers start. */
  volumes: PodVolumes;
  /** postStart and preStop hooks. */
  hooks: LifecycleHooks;
  /** Whether a running container instance passed its startup probe (sidecars wait for it). */
  startupSucceeded?: StartupCheck;
}

interface SandboxContext {
  id: string;
  /** The sandbox's config, which pulls and CreateContainer take along; made when first needed. */
  config: () => Promise<PodSandboxConfigInit>;
  podIPs: string[];
  state: ObservedPod;
}

function once<T>(make: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => (value ??= make());
}

/** The kubelet's format.Pod: `name_namespace(uid)`. */
function podRef(pod: Pod): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}

/** The restart back-off key: pod, container name and spec hash (getStableKey). */
export function crashBackOffKey(pod: Pod, container: Container): string {
  return `${podUid(pod)}/${container.name}/${containerHash(container)}`;
}

export class PodSync {
  readonly #deps: PodSyncDeps;

  constructor(deps: PodSyncDeps) {
    this.#deps = deps;
  }

  async #hostResolver(): Promise<ResolverConfig | undefined> {
    const file = this.#deps.settings.resolvConf;
    if (file === '') return undefined;
    try {
      return parseResolvConf(await readFile(file, 'utf8'));
    } catch (e) {
      this.#deps.logger.warn({ file, err: e }, 'cannot read the resolver file; pods get no host DNS');
      return { servers: [], searches: [], options: [] };
    }
  }

  /** The sandbox config for `attempt`; DNS warnings are logged when `log` is given (when the sandbox is made). */
  async #sandboxConfig(pod: Pod, attempt: number, log?: Logger): Promise<PodSandboxConfigInit> {
    const { settings } = this.#deps;
    const dns = podDnsConfig(pod, {
      clusterDns: settings.clusterDns,
      clusterDomain: settings.clusterDomain,
      hostResolver: await this.#hostResolver(),
    });
    for (const warning of dns.warnings) log?.warn({ dns: dns.config }, warning);
    return sandboxConfig(pod, attempt, {
      podLogsRoot: settings.podLogsRoot,
      dns: dns.config,
      cgroupParent: settings.cgroupParent,
      clusterDomain: settings.clusterDomain,
    });
  }

  async sync(pod: Pod, signal: AbortSignal): Promise<SyncResult> {
    const { runtime, reader, settings } = this.#deps;
    const log = this.#deps.logger.child({ pod: podFullName(pod), uid: podUid(pod) });
    const calls = { signal, callTimeoutMs: settings.callTimeoutMs };
    const state = await reader.pod(podUid(pod), signal);
    const actions = computePodActions(pod, state, containerHash, this.#deps.startupSucceeded);
    const graceSeconds = gracePeriodSeconds(pod, state);

    if (actions.killPod) {
      if (state.containers.some((c) => c.state !== 'exited') || state.sandboxes.some((s) => s.ready)) {
        log.info(
          { createSandbox: actions.createSandbox },
          actions.createSandbox ? 'stopping the pod sandbox to start a new one' : 'stopping the pod: nothing left to run',
        );
      }
      if (actions.createSandbox && state.sandboxes.length > 0) {
        this.#deps.events?.podEvent(pod, 'Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.');
      }
      await stopPod(runtime, state, {
        ...calls,
        graceSeconds,
        preStop: this.#deps.hooks.preStopRunner(pod, state),
        sidecars: sidecarNames(pod),
      });
      if (!actions.createSandbox) {
        await this.#collectGarbage(state, signal);
        return {};
      }
      // The new sandbox runs every init container again.
      const initNames = new Set((pod.spec.initContainers ?? []).map((c) => c.name));
      await removeContainers(
        runtime,
        state.containers.filter((c) => initNames.has(c.name)).map((c) => c.id),
        calls,
      );
      state.containers = state.containers.filter((c) => !initNames.has(c.name));
    } else {
      for (const kill of actions.containersToKill) {
        log.info({ container: kill.name, containerId: kill.id }, kill.reason);
        this.#deps.events?.podEvent(pod, 'Normal', 'Killing', kill.reason, kill.name);
        await stopContainer(runtime, kill, { ...calls, graceSeconds, preStop: this.#deps.hooks.preStopRunner(pod, state) });
      }
    }

    // As the kubelet: no sandbox and no container before every volume is set up.
    const volumesRetryMs = await this.#deps.volumes.prepare(pod, signal);
    if (volumesRetryMs !== undefined) {
      await this.#collectGarbage(state, signal);
      return { resyncAfterMs: volumesRetryMs };
    }

    let sandbox: SandboxContext;
    if (actions.createSandbox) {
      sandbox = await this.#createSandbox(pod, actions.attempt, state, log, signal);
    } else {
      const latest = state.sandboxes[0]!;
      sandbox = { id: latest.id, config: once(() => this.#sandboxConfig(pod, latest.attempt)), podIPs: latest.ips, state };
    }

    const retries: number[] = [];
    const toStart = [
      ...(pod.spec.initContainers ?? []).filter((c) => actions.initContainersToStart.includes(c.name)),
      ...pod.spec.containers.filter((c) => actions.containersToStart.includes(c.name)),
    ];
    for (const container of toStart) {
      const retry = await this.#startContainer(pod, container, sandbox, log, signal);
      if (retry !== undefined) retries.push(retry);
    }
    await this.#collectGarbage(state, signal);
    return retries.length > 0 ? { resyncAfterMs: Math.min(...retries) } : {};
  }

  async #createSandbox(pod: Pod, attempt: number, state: ObservedPod, log: Logger, signal: AbortSignal): Promise<SandboxContext> {
    const { runtime, settings } = this.#deps;
    const config = await this.#sandboxConfig(pod, attempt, log);
    await mkdir(podLogDirectory(settings.podLogsRoot, pod), { recursive: true, mode: 0o755 });
    log.info({ attempt }, 'creating the pod sandbox');
    const { podSandboxId } = await runtime.runPodSandbox(
      { config, runtimeHandler: typeof pod.spec.runtimeClassName === 'string' ? pod.spec.runtimeClassName : '' },
      { signal, timeoutMs: settings.callTimeoutMs * 2 },
    );
    const { status } = await runtime.podSandboxStatus({ podSandboxId }, { signal, timeoutMs: settings.callTimeoutMs });
    const ip = status?.network?.ip ?? '';
    const podIPs = [ip, ...(status?.network?.additionalIps ?? []).map((a) => a.ip)].filter((a) => a !== '');
    log.info({ sandboxId: podSandboxId, podIPs }, 'pod sandbox ready');
    return { id: podSandboxId, config: async () => config, podIPs, state };
  }

  /** Starts one container; returns when to try again if it could not (back-off, pull failure, error). */
  async #startContainer(
    pod: Pod,
    container: Container,
    sandbox: SandboxContext,
    log: Logger,
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const { runtime, puller, crashBackOff, reasons, settings, now, events } = this.#deps;
    const uid = podUid(pod);
    const fail = (reason: string, message: string, retryAfterMs: number | undefined): number | undefined => {
      reasons.set(uid, container.name, { reason, message });
      log.warn({ container: container.name, reason }, message);
      if (reason !== 'ErrImagePull' && reason !== 'ImagePullBackOff' && reason !== 'ErrImageNeverPull') {
        events?.podEvent(pod, 'Warning', 'Failed', `Error: ${message}`, container.name);
      }
      return retryAfterMs;
    };

    const lastExited = newestExitedContainer(sandbox.state, container.name);
    if (lastExited !== undefined) {
      const key = crashBackOffKey(pod, container);
      const finishedAt = lastExited.finishedAt || now();
      if (crashBackOff.isInBackOffSince(key, finishedAt)) {
        const message = `back-off ${goDuration(crashBackOff.get(key))} restarting failed container=${container.name} pod=${podRef(pod)}`;
        reasons.set(uid, container.name, { reason: 'CrashLoopBackOff', message });
        events?.podEvent(
          pod,
          'Warning',
          'BackOff',
          `Back-off restarting failed container ${container.name} in pod ${podRef(pod)}`,
          container.name,
        );
        return crashBackOff.remaining(key, finishedAt) + 50;
      }
      crashBackOff.next(key, finishedAt);
    }

    const image = await puller.ensureImage(pod, container, await sandbox.config(), signal);
    if (!image.ok) return fail(image.reason, image.message, image.retryAfterMs);

    let env: NamedValue[];
    try {
      env = await containerEnv(
        pod,
        container,
        { podIPs: sandbox.podIPs, hostIPs: settings.nodeIP ? [settings.nodeIP] : [], nodeName: settings.nodeName },
        {
          ...this.#deps.envSources,
          onInvalidNames: (message) => events?.podEvent(pod, 'Warning', 'InvalidEnvironmentVariableNames', message),
        },
        signal,
      );
      const nonRoot =
        (container.securityContext?.runAsNonRoot ?? pod.spec.securityContext?.runAsNonRoot) === true
          ? runAsNonRootViolation(pod, container, await puller.imageUser(image.imageRef, signal))
          : undefined;
      if (nonRoot !== undefined) return fail('CreateContainerConfigError', nonRoot, settings.containerErrorRetryMs);
    } catch (e) {
      if (signal.aborted) throw e;
      return fail('CreateContainerConfigError', (e as Error).message, settings.containerErrorRetryMs);
    }

    let mounts: CriMount[];
    try {
      mounts = await containerMounts(pod, container, env, settings.rootDir);
      mounts.push(...(await kubeletFileMounts(pod, container, sandbox.podIPs, settings, log)));
    } catch (e) {
      return fail('CreateContainerConfigError', (e as Error).message, settings.containerErrorRetryMs);
    }

    const restartCount = (newestContainer(sandbox.state, container.name)?.restartCount ?? -1) + 1;
    await mkdir(`${podLogDirectory(settings.podLogsRoot, pod)}/${container.name}`, { recursive: true, mode: 0o755 });
    const config = containerConfig(pod, container, {
      restartCount,
      imageRef: image.imageRef,
      env,
      mounts,
      hash: containerHash(container),
      nodeMemoryBytes: settings.nodeMemoryBytes,
      cgroupV2: settings.cgroupV2,
    });
    let containerId: string;
    try {
      ({ containerId } = await runtime.createContainer(
        { podSandboxId: sandbox.id, config, sandboxConfig: await sandbox.config() },
        { signal, timeoutMs: settings.callTimeoutMs },
      ));
    } catch (e) {
      if (signal.aborted) throw e;
      return fail('CreateContainerError', (e as Error).message, settings.containerErrorRetryMs);
    }
    events?.podEvent(pod, 'Normal', 'Created', `Created container: ${container.name}`, container.name);
    try {
      await runtime.startContainer({ containerId }, { signal, timeoutMs: settings.callTimeoutMs });
    } catch (e) {
      if (signal.aborted) throw e;
      return fail('RunContainerError', (e as Error).message, settings.containerErrorRetryMs);
    }
    events?.podEvent(pod, 'Normal', 'Started', `Started container ${container.name}`, container.name);
    const graceSeconds = gracePeriodSeconds(pod, sandbox.state);
    const hookFailure = await this.#deps.hooks.postStart(pod, container, containerId, sandbox.podIPs, graceSeconds, signal);
    if (hookFailure !== undefined) {
      reasons.set(uid, container.name, { reason: 'PostStartHookError', message: hookFailure });
      return undefined;
    }
    reasons.clear(uid, container.name);
    log.info({ container: container.name, containerId, restartCount }, 'container started');
    return undefined;
  }

  async #collectGarbage(state: ObservedPod, signal: AbortSignal): Promise<void> {
    const { runtime, settings, logger } = this.#deps;
    const garbage = garbageToCollect(state);
    if (garbage.containerIds.length === 0 && garbage.sandboxIds.length === 0) return;
    try {
      await removeContainers(runtime, garbage.containerIds, { signal, callTimeoutMs: settings.callTimeoutMs });
      await removeSandboxes(runtime, garbage.sandboxIds, { signal, callTimeoutMs: settings.callTimeoutMs });
    } catch (e) {
      if (!signal.aborted) logger.warn({ err: e, ...garbage }, 'removing dead containers failed; trying again later');
    }
  }
}
