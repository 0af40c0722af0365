// The Node object, as the kubelet keeps it: registered at start (capacity, allocatable, addresses,
// nodeInfo with the runtime's version, the kubelet's well-known labels), then its status checked
// every period and written when something changed or when the last write is getting old (the
// Lease is the heartbeat in between). A write reads the node first and replaces its status with
// the read resourceVersion, so a concurrent change (409 Conflict) makes it read and try again;
// conditions that other components own are kept.
import { setTimeout as sleep } from 'node:timers/promises';
import { cancelled } from '../../errors/errors.ts';
import type { Logger } from '../../util/logger.ts';
import { k8sTime } from '../k8s-time.ts';
import type { Node, NodeAddress, NodeCondition, NodeStatus } from '../k8s-types.ts';
import type { EventType, NodeStatusProvider, ProviderNodeStatus } from '../provider.ts';
import { diskPressure, goArch, type HostInfo, hostInfo, memoryPressure } from './host-info.ts';
import { apiErrorMessage, fromApi, type KubeApi, statusCode, toApi } from './kube-api.ts';

/** The kubelet's nodeStatusUpdateRetry. */
const UPDATE_TRIES = 5;
const OWN_CONDITIONS = ['MemoryPressure', 'DiskPressure', 'PIDPressure', 'Ready'];

export interface NodeStatusTimings {
  /** How often the status is checked (kubelet --node-status-update-frequency). Default 10 s. */
  updateMs: number;
  /** Written at least this often even when unchanged (kubelet nodeStatusReportFrequency). Default 5 min. */
  reportMs: number;
  /** First pause between registration attempts; doubles to 7 s as the kubelet's. Default 100 ms. */
  registerRetryMs: number;
}

export interface NodeStatusOptions {
  api: KubeApi;
  nodeName: string;
  nodeIP?: string;
  logger: Logger;
  provider: Partial<NodeStatusProvider>;
  /** The node API's port, reported as the kubelet endpoint. */
  apiPort?: number;
  /** The filesystem whose size is the ephemeral-storage capacity. Default /. */
  diskPath?: string;
  timings?: Partial<NodeStatusTimings>;
  /** Node events: Starting, NodeReady, NodeNotReady. */
  onEvent?: (type: EventType, reason: string, message: string) => void;
  /** Host facts (tests give their own). */
  host?: () => Promise<HostInfo>;
}

const DEFAULT_TIMINGS: NodeStatusTimings = { updateMs: 10_000, reportMs: 5 * 60_000, registerRetryMs: 100 };

function condition(type: string, ok: boolean, reasons: [string, string, string, string]): NodeCondition {
  const [okReason, okMessage, badReason, badMessage] = reasons;
  return { type, status: ok ? 'False' : 'True', reason: ok ? okReason : badReason, message: ok ? okMessage : badMessage };
}

/** What the status says, without heartbeat times: two statuses that differ only in those are the same. */
function statusKey(status: NodeStatus | undefined): string {
  const conditions = (status?.conditions ?? [])
    .filter((c) => OWN_CONDITIONS.includes(c.type))
    .map(({ type, status: s, reason, message }) => ({ type, s, reason, message }));
  return JSON.stringify([conditions, status?.addresses, status?.capacity, status?.allocatable, status?.nodeInfo, status?.daemonEndpoints]);
}

export class NodeStatusManager {
  readonly #options: NodeStatusOptions;
  readonly #timings: NodeStatusTimings;
  #node: Node | undefined;
  #lastWrite = 0;
  #lastReady: boolean | undefined;
  #registered = Promise.withResolvers<Node>();

  constructor(options: NodeStatusOptions) {
    this.#options = options;
    this.#timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.#registered.promise.catch(() => undefined);
  }

  /** The node as last read or written. */
  get node(): Node | undefined {
    return this.#node;
  }

  /** Resolves with the node once it is registered. */
  registered(): Promise<Node> {
    return this.#registered.promise;
  }

  async #status(previous: NodeStatus | undefined, signal: AbortSignal): Promise<{ status: NodeStatus; ready: boolean }> {
    const { provider, nodeIP, apiPort, logger } = this.#options;
    const host = await (this.#options.host ?? (() => hostInfo(this.#options.diskPath)))();
    let backend: ProviderNodeStatus = { ready: true };
    if (provider.nodeStatus !== undefined) {
      try {
        backend = await provider.nodeStatus(signal);
      } catch (e) {
        if (signal.aborted) throw e;
        logger.warn({ err: e }, 'the provider did not report its status');
        backend = { ready: false, message: `the provider does not answer: ${(e as Error).message}` };
      }
    }
    const now = k8sTime();
    const capacity = backend.capacity ?? host.capacity;
    const ours: NodeCondition[] = [
      condition('MemoryPressure', !memoryPressure(host), [
        'KubeletHasSufficientMemory',
        'kubelet has sufficient memory available',
        'KubeletHasInsufficientMemory',
        'kubelet has insufficient memory available',
      ]),
      condition('DiskPressure', !diskPressure(host), [
        'KubeletHasNoDiskPressure',
        'kubelet has no disk pressure',
        'KubeletHasDiskPressure',
        'kubelet has disk pressure',
      ]),
      condition('PIDPressure', true, ['KubeletHasSufficientPID', 'kubelet has sufficient PID available', '', '']),
      backend.ready
        ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }
        : { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: backend.message ?? 'the provider is not ready' },
    ];
    const conditions = ours.map((c) => {
      const old = previous?.conditions?.find((p) => p.type === c.type);
      return {
        ...c,
        lastHeartbeatTime: now,
        lastTransitionTime: old !== undefined && old.status === c.status && old.lastTransitionTime ? old.lastTransitionTime : now,
      };
    });
    // Conditions that other components set (NetworkUnavailable, node-problem-detector's) stay.
    const others = (previous?.conditions ?? []).filter((c) => !OWN_CONDITIONS.includes(c.type));
    const addresses: NodeAddress[] = [
      ...(nodeIP ? [{ type: 'InternalIP' as const, address: nodeIP }] : []),
      { type: 'Hostname', address: host.hostname },
    ];
    return {
      ready: backend.ready,
      status: {
        ...previous,
        capacity,
        allocatable: backend.allocatable ?? capacity,
        conditions: [...others, ...conditions],
        addresses,
        daemonEndpoints: { kubeletEndpoint: { Port: apiPort ?? 0 } },
        nodeInfo: { ...host.systemInfo, containerRuntimeVersion: backend.runtimeVersion ?? '' },
      },
    };
  }

  #labels(): Record<string, string> {
    const arch = goArch();
    return {
      'kubernetes.io/hostname': this.#options.nodeName,
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': arch,
      'beta.kubernetes.io/os': 'linux',
      'beta.kubernetes.io/arch': arch,
    };
  }

  /** Creates the Node (or takes the one that exists), trying again until it works or `signal` aborts. */
  async register(signal: AbortSignal): Promise<Node> {
    const { api, nodeName, logger } = this.#options;
    let delay = this.#timings.registerRetryMs;
    while (!signal.aborted) {
      try {
        const { status, ready } = await this.#status(undefined, signal);
        const body: Node = {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: {
            name: nodeName,
            labels: this.#labels(),
            annotations: { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
          },
          spec: {},
          status,
        };
        let node: Node;
        try {
          node = fromApi<Node>(await api.core.createNode({ body: toApi(body) }));
          logger.info({ nodeName, uid: node.metadata.uid }, 'registered the node with the API server');
        } catch (e) {
          if (statusCode(e) !== 409) throw e;
          node = fromApi<Node>(await api.core.readNode({ name: nodeName }));
          logger.info({ nodeName, uid: node.metadata.uid }, 'the node was registered before: taking it over');
          this.#node = node;
          await this.update(signal, true);
          node = this.#node ?? node;
        }
        this.#node = node;
        this.#lastWrite = Date.now();
        this.#options.onEvent?.('Normal', 'Starting', 'Starting kubelet.');
        this.#noteReady(ready);
        this.#registered.resolve(node);
        return node;
      } catch (e) {
        if (signal.aborted) break;
        logger.warn({ err: apiErrorMessage(e), code: statusCode(e), retryInMs: delay }, 'registering the node failed');
        await sleep(delay, undefined, { signal }).catch(() => undefined);
        delay = Math.min(delay * 2, 7000);
      }
    }
    throw signal.reason ?? cancelled('node-registration-cancelled', 'aborted');
  }

  #noteReady(ready: boolean): void {
    if (this.#lastReady === ready) return;
    this.#lastReady = ready;
    const { nodeName } = this.#options;
    if (ready) this.#options.onEvent?.('Normal', 'NodeReady', `Node ${nodeName} status is now: NodeReady`);
    else this.#options.onEvent?.('Normal', 'NodeNotReady', `Node ${nodeName} status is now: NodeNotReady`);
  }

  /** Reads the node, and writes its status when it changed or the last write is older than the report period (or `force`). */
  async update(signal: AbortSignal, force = false): Promise<void> {
    const { api, nodeName, logger } = this.#options;
    for (let attempt = 1; ; attempt++) {
      const current = fromApi<Node>(await api.core.readNode({ name: nodeName }));
      const { status, ready } = await this.#status(current.status, signal);
      const changed = statusKey(status) !== statusKey(current.status);
      if (!force && !changed && Date.now() - this.#lastWrite < this.#timings.reportMs) {
        this.#node = current;
        this.#noteReady(ready);
        return;
      }
      try {
        this.#node = fromApi<Node>(await api.core.replaceNodeStatus({ name: nodeName, body: toApi({ ...current, status }) }));
        this.#lastWrite = Date.now();
        this.#noteReady(ready);
        if (changed) logger.info({ nodeName, ready }, 'node status updated');
        return;
      } catch (e) {
        if (statusCode(e) !== 409 || attempt >= UPDATE_TRIES) throw e;
        logger.debug({ nodeName, attempt }, 'the node changed while its status was written (409 Conflict): reading it again');
      }
    }
  }

  /** Checks the status every period until `signal` aborts (after registration). */
  async run(signal: AbortSignal): Promise<void> {
    const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    await Promise.race([this.registered(), aborted]);
    while (!signal.aborted) {
      await sleep(this.#timings.updateMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return;
      try {
        await this.update(signal);
      } catch (e) {
        if (!signal.aborted) this.#options.logger.warn({ err: apiErrorMessage(e), code: statusCode(e) }, 'updating the node status failed');
      }
    }
  }
}
