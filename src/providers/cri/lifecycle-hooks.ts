// Container lifecycle hooks as the kubelet runs them (lifecycle/handlers.go, kuberuntime's
// startContainer and killContainer): postStart right after StartContainer, before the container
// counts as started; preStop before every stop of a running container, inside its grace period.
// exec runs through the runtime's ExecSync, httpGet goes to the pod IP (or the handler's host),
// sleep waits. A failed postStart kills the container (restartPolicy decides); a failed preStop
// is reported and the stop goes on; a preStop that outlasts the grace period is abandoned.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Container, HttpGetAction, LifecycleHandler, Pod } from '../../agent/k8s-types.ts';
import { resolvePort } from '../../agent/probes/probe-check.ts';
import type { EventRecorder } from '../../agent/provider.ts';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import { failedPrecondition, internal, invalidArgument } from '../../errors/errors.ts';
import type { Logger } from '../../util/logger.ts';
import { type PreStopRunner, stopContainer } from './pod-teardown.ts';
import type { ObservedPod } from './runtime-reader.ts';

/** The user agent of the kubelet's lifecycle HTTP requests (the probes say kube-probe). */
export const LIFECYCLE_USER_AGENT = 'kube-lifecycle/1.30';

/** The kubelet's format.Pod: `name_namespace(uid)`. */
function podRef(pod: Pod): string {
  return `${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`;
}

/** Go's %q of a string. */
export function goQuote(s: string): string {
  return JSON.stringify(s).replace(/\\u00([0-9a-f]{2})/g, '\\x$1');
}

/** Why a hook failed, worded as the kubelet words it in the log and the container's waiting message. */
export function hookFailureMessage(handler: LifecycleHandler, pod: Pod, container: Container, error: string, output = ''): string {
  const where = `for Container ${goQuote(container.name)} in Pod ${goQuote(podRef(pod))} failed - error: ${error}`;
  if (handler.exec !== undefined)
    return `Exec lifecycle hook ([${(handler.exec.command ?? []).join(' ')}]) ${where}, message: ${goQuote(output)}`;
  if (handler.httpGet !== undefined) return `HTTP lifecycle hook (${handler.httpGet.path ?? ''}) ${where}`;
  if (handler.sleep !== undefined) return `Sleep lifecycle hook (${handler.sleep.seconds}) ${where}`;
  return `Cannot run handler: ${error}`;
}

/** The URL of an httpGet handler: scheme HTTP, path `/` and the pod IP unless the handler says otherwise. */
export function hookUrl(action: HttpGetAction, container: Container, podIP: string): URL {
  const port = action.port === '' ? 80 : resolvePort(action.port, container);
  if (port === undefined)
    throw invalidArgument('lifecycle-hook-invalid', `couldn't find port: ${action.port} in container ${goQuote(container.name)}`);
  const scheme = (action.scheme ?? 'HTTP').toLowerCase();
  const host = action.host || podIP;
  const path = action.path ?? '';
  return new URL(`${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}${path.startsWith('/') ? '' : '/'}${path}`);
}

/** GETs the URL; any HTTP answer is success (the kubelet does not look at the status code). */
function httpGet(action: HttpGetAction, url: URL, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string> = { 'User-Agent': LIFECYCLE_USER_AGENT, Accept: '*/*' };
  for (const h of action.httpHeaders ?? []) headers[h.name] = h.value;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers, signal, rejectUnauthorized: false }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', resolve);
    });
    req.on('error', (e) => reject(internal('lifecycle-hook-failed', `Get ${goQuote(url.href)}: ${e.message}`)));
    req.end();
  });
}

export interface LifecycleHooksOptions {
  runtime: RuntimeClient;
  logger: Logger;
  events?: EventRecorder;
  /** Where httpGet hooks of host-network pods go (their pod IP is the node's). */
  nodeIP?: string;
  callTimeoutMs: number;
  now?: () => number;
}

export class LifecycleHooks {
  readonly #options: LifecycleHooksOptions;
  readonly #postStartRunning = new Set<string>();
  readonly #now: () => number;

  constructor(options: LifecycleHooksOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** True while the container's postStart hook runs: it is not reported as started until then. */
  isStarting(containerId: string): boolean {
    return this.#postStartRunning.has(containerId);
  }

  /** The address httpGet hooks go to: the pod's first IP, the node's for a host-network pod. */
  hookHost(pod: Pod, podIPs: string[]): string {
    return podIPs[0] ?? (pod.spec.hostNetwork ? (this.#options.nodeIP ?? '') : '');
  }

  /** Runs one handler; answers why it failed, or undefined on success. */
  async run(handler: LifecycleHandler, pod: Pod, container: Container, containerId: string, podIP: string, signal: AbortSignal) {
    const { runtime, logger } = this.#options;
    const fail = (error: string, output?: string) => hookFailureMessage(handler, pod, container, error, output);
    if (handler.exec !== undefined) {
      const cmd = handler.exec.command ?? [];
      try {
        const res = await runtime.execSync({ containerId, cmd, timeout: 0n }, { signal });
        if (res.exitCode === 0) return undefined;
        const stderr = Buffer.from(res.stderr).toString('utf8');
        const output = Buffer.from(res.stdout).toString('utf8') + stderr;
        return fail(`command '${cmd.join(' ')}' exited with ${res.exitCode}: ${stderr}`, output);
      } catch (e) {
        if (signal.aborted) throw e;
        return fail((e as Error).message);
      }
    }
    if (handler.httpGet !== undefined) {
      try {
        if (!handler.httpGet.host && podIP === '')
          throw failedPrecondition('lifecycle-hook-no-pod-ip', 'failed to find networking container: the pod has no IP');
        await httpGet(handler.httpGet, hookUrl(handler.httpGet, container, podIP), signal);
        return undefined;
      } catch (e) {
        if (signal.aborted) throw e;
        return fail((e as Error).message);
      }
    }
    if (handler.sleep !== undefined) {
      try {
        await sleep(handler.sleep.seconds * 1000, undefined, { signal });
        return undefined;
      } catch {
        return fail('container terminated before sleep hook finished');
      }
    }
    // tcpSocket is kept in the API only for compatibility: the kubelet fails such a hook.
    const error = `invalid handler: ${handler.tcpSocket !== undefined ? 'tcpSocket is not supported as a lifecycle handler' : 'no handler set'}`;
    logger.error({ pod: podRef(pod), container: container.name }, `Cannot run handler: ${error}`);
    return fail(error);
  }

  /**
   * Runs the container's postStart hook right after StartContainer. On failure: a FailedPostStartHook
   * event, the container is killed (its preStop runs too, as in the kubelet) and the failure is
   * returned for the container's waiting message (reason PostStartHookError).
   */
  async postStart(
    pod: Pod,
    container: Container,
    containerId: string,
    podIPs: string[],
    graceSeconds: number,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    const handler = container.lifecycle?.postStart;
    if (handler === undefined) return undefined;
    const { runtime, logger, events, callTimeoutMs } = this.#options;
    this.#postStartRunning.add(containerId);
    try {
      const failure = await this.run(handler, pod, container, containerId, this.hookHost(pod, podIPs), signal);
      if (failure === undefined) return undefined;
      logger.warn({ pod: podRef(pod), container: container.name, containerId }, `PostStartHookError: ${failure}`);
      // The detail stays out of the event, as with the kubelet: hook output may hold secrets.
      events?.podEvent(pod, 'Warning', 'FailedPostStartHook', 'PostStartHook failed', container.name);
      events?.podEvent(pod, 'Normal', 'Killing', 'FailedPostStartHook', container.name);
      try {
        await stopContainer(
          runtime,
          { id: containerId, name: container.name },
          {
            graceSeconds,
            callTimeoutMs,
            signal,
            preStop: this.preStopRunner(pod, undefined, podIPs),
          },
        );
      } catch (e) {
        if (signal.aborted) throw e;
        logger.error(
          { err: e, pod: podRef(pod), container: container.name, containerId },
          'killing the container after its failed postStart hook failed',
        );
      }
      return failure;
    } finally {
      this.#postStartRunning.delete(containerId);
    }
  }

  /**
   * What stopContainer calls before StopContainer: the preStop hook of a container the runtime
   * does not report as created or exited, given at most the grace period. `state` tells the
   * containers' states; `podIPs` where httpGet hooks go (from `state` when not given).
   */
  preStopRunner(pod: Pod, state: ObservedPod | undefined, podIPs?: string[]): PreStopRunner {
    return async (target, graceSeconds, signal) => {
      const spec = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find((c) => c.name === target.name);
      const handler = spec?.lifecycle?.preStop;
      const observed = state?.containers.find((c) => c.id === target.id)?.state;
      if (spec === undefined || handler === undefined || graceSeconds <= 0 || observed === 'created' || observed === 'exited') return 0;
      const ips = podIPs ?? state?.sandboxes.find((s) => s.ready)?.ips ?? [];
      return this.#preStop(handler, pod, spec, target.id, this.hookHost(pod, ips), graceSeconds, signal);
    };
  }

  async #preStop(
    handler: LifecycleHandler,
    pod: Pod,
    container: Container,
    containerId: string,
    host: string,
    graceSeconds: number,
    signal: AbortSignal,
  ): Promise<number> {
    const { logger, events } = this.#options;
    const log = logger.child({ pod: podRef(pod), container: container.name, containerId });
    const started = this.#now();
    const abandon = new AbortController();
    const hookSignal = AbortSignal.any([signal, abandon.signal]);
    const hook = this.run(handler, pod, container, containerId, host, hookSignal).then(
      (failure) => {
        if (failure === undefined || abandon.signal.aborted) return 'done';
        log.warn(`PreStop hook failed: ${failure}`);
        events?.podEvent(pod, 'Warning', 'FailedPreStopHook', 'PreStopHook failed', container.name);
        return 'done';
      },
      () => 'abandoned',
    );
    const outcome = await Promise.race([hook, sleep(graceSeconds * 1000, 'timeout', { signal: hookSignal }).catch(() => 'aborted')]);
    abandon.abort();
    if (signal.aborted) throw signal.reason;
    if (outcome === 'timeout') log.info({ graceSeconds }, 'PreStop hook not completed in grace period');
    return Math.floor((this.#now() - started) / 1000);
  }
}
