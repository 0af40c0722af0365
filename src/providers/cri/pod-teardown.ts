// Stopping and removing a pod's containers and sandboxes: containers first, in parallel, each
// within the grace period; then the sandboxes. Things already gone are not errors.
import type { Pod } from '../../agent/k8s-types.ts';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import { isBerthError } from '../../errors/errors.ts';
import type { ObservedPod } from './runtime-reader.ts';

/** The kubelet never gives a container less than this to stop. */
export const MIN_GRACE_PERIOD_SECONDS = 2;
const DEFAULT_GRACE_PERIOD_SECONDS = 30;

/** metadata.deletionGracePeriodSeconds, else spec.terminationGracePeriodSeconds, else the containers' annotation, else 30; at least 2. */
export function gracePeriodSeconds(pod: Pod, state: ObservedPod): number {
  const annotated = state.containers.find((c) => c.podGracePeriodSeconds !== undefined)?.podGracePeriodSeconds;
  const grace =
    pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? annotated ?? DEFAULT_GRACE_PERIOD_SECONDS;
  return Math.max(grace, MIN_GRACE_PERIOD_SECONDS);
}

async function ignoringNotFound(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (e) {
    if (!isBerthError(e, 'not-found')) throw e;
  }
}

async function settleAll(calls: Promise<void>[]): Promise<void> {
  const results = await Promise.allSettled(calls);
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length > 0) throw failed[0]!.reason;
}

/** The grace period left for StopContainer once a preStop hook ran for `hookSeconds` (whole seconds count, as in the kubelet). */
export function graceAfterPreStop(graceSeconds: number, hookSeconds: number): number {
  return Math.max(graceSeconds - Math.floor(hookSeconds), MIN_GRACE_PERIOD_SECONDS);
}

/** Runs a container's preStop hook within `graceSeconds`; answers how many whole seconds it took. */
export type PreStopRunner = (container: { id: string; name: string }, graceSeconds: number, signal: AbortSignal) => Promise<number>;

export interface TeardownOptions {
  graceSeconds: number;
  callTimeoutMs: number;
  signal: AbortSignal;
  /** The preStop hooks (lifecycle-hooks.ts): their time comes out of the grace period, leaving at least 2 s. */
  preStop?: PreStopRunner;
  /** The pod's sidecars in declaration order: stopped after the other containers, last one first. */
  sidecars?: readonly string[];
}

export async function stopContainer(
  runtime: RuntimeClient,
  container: { id: string; name: string },
  options: TeardownOptions,
): Promise<void> {
  let graceSeconds = options.graceSeconds;
  if (options.preStop !== undefined) {
    graceSeconds = graceAfterPreStop(graceSeconds, await options.preStop(container, graceSeconds, options.signal));
  }
  await ignoringNotFound(
    runtime.stopContainer(
      { containerId: container.id, timeout: BigInt(graceSeconds) },
      { signal: options.signal, timeoutMs: graceSeconds * 1000 + options.callTimeoutMs },
    ),
  );
}

/**
 * Stops every container that may still run — the others together, then the sidecars one by one in
 * reverse order, within what is left of the grace period — then every sandbox (StopPodSandbox also
 * releases the network).
 */
export async function stopPod(runtime: RuntimeClient, state: ObservedPod, options: TeardownOptions): Promise<void> {
  const startedAt = Date.now();
  const sidecars = options.sidecars ?? [];
  const live = state.containers.filter((c) => c.state !== 'exited');
  await settleAll(live.filter((c) => !sidecars.includes(c.name)).map((c) => stopContainer(runtime, c, options)));
  for (const name of [...sidecars].reverse()) {
    const left = options.graceSeconds - Math.floor((Date.now() - startedAt) / 1000);
    const sidecarOptions = { ...options, graceSeconds: Math.max(left, MIN_GRACE_PERIOD_SECONDS) };
    await settleAll(live.filter((c) => c.name === name).map((c) => stopContainer(runtime, c, sidecarOptions)));
  }
  await settleAll(
    state.sandboxes.map((s) =>
      ignoringNotFound(runtime.stopPodSandbox({ podSandboxId: s.id }, { signal: options.signal, timeoutMs: options.callTimeoutMs })),
    ),
  );
}

export async function removeContainers(
  runtime: RuntimeClient,
  ids: string[],
  options: Omit<TeardownOptions, 'graceSeconds'>,
): Promise<void> {
  await settleAll(
    ids.map((id) =>
      ignoringNotFound(runtime.removeContainer({ containerId: id }, { signal: options.signal, timeoutMs: options.callTimeoutMs })),
    ),
  );
}

export async function removeSandboxes(
  runtime: RuntimeClient,
  ids: string[],
  options: Omit<TeardownOptions, 'graceSeconds'>,
): Promise<void> {
  await settleAll(
    ids.map((id) =>
      ignoringNotFound(runtime.removePodSandbox({ podSandboxId: id }, { signal: options.signal, timeoutMs: options.callTimeoutMs })),
    ),
  );
}

/** Stops and removes everything the pod has in the runtime. */
export async function removePod(runtime: RuntimeClient, state: ObservedPod, options: TeardownOptions): Promise<void> {
  await stopPod(runtime, state, options);
  await removeContainers(
    runtime,
    state.containers.map((c) => c.id),
    options,
  );
  await removeSandboxes(
    runtime,
    state.sandboxes.map((s) => s.id),
    options,
  );
}
