// The provider contract: the only thing the node core knows about whatever runs the pods.
// Modelled on Virtual Kubelet's PodLifecycleHandler / PodNotifier and its node-API hooks.
// docs/providers.md explains it for provider authors.
import type { Logger } from '../util/logger.ts';
import type { ConfigMap, ObjectReference, Pod, PodStatus, Secret, Service } from './k8s-types.ts';
import type { PodStats } from './stats-summary.ts';

/** What a sync (createPod / updatePod) may tell the node core. */
export interface SyncResult {
  /**
   * Call updatePod again after this many milliseconds even if nothing changes: a container is in
   * restart back-off, an image pull is backing off, … The core may call earlier.
   */
  resyncAfterMs?: number;
}

export interface ContainerLogOptions {
  /** Keep the stream open and send new lines as they come. */
  follow?: boolean;
  /** Only the last N lines. */
  tailLines?: number;
  /** Prefix each line with its RFC 3339 timestamp. */
  timestamps?: boolean;
  /** Only lines newer than this many seconds. */
  sinceSeconds?: number;
  /** The previous instance of the container (its last terminated run). */
  previous?: boolean;
  /** Stop after this many bytes of output. */
  limitBytes?: number;
}

/** A terminal's size in characters. */
export interface TerminalSize {
  width: number;
  height: number;
}

/**
 * The input and output of a command run in a container (exec, attach). The output callbacks may
 * return a promise: a provider that awaits it goes at the client's pace.
 */
export interface ExecIO {
  stdin?: AsyncIterable<Uint8Array>;
  stdout?: (chunk: Uint8Array) => void | Promise<void>;
  stderr?: (chunk: Uint8Array) => void | Promise<void>;
  tty?: boolean;
  /** TTY sessions: the client's terminal sizes, the current one first; ends with the session. */
  resize?: AsyncIterable<TerminalSize>;
  /** Give up (and kill the command) after this long; absent or 0: no limit. Probes set it. */
  timeoutSeconds?: number;
}

export interface ExecResult {
  exitCode: number;
}

/** A pod's entry in the kubelet's Summary API (/stats/summary), as the provider measures it. */
export type { PodStats };

/**
 * A backend that runs pods for the node. Every method takes an AbortSignal and must stop work when
 * it fires. Pods handed in always have metadata.uid, metadata.name, metadata.namespace and
 * spec.nodeName set; the provider must not modify them.
 *
 * Call order, per pod UID, is serialised by the node core (never two calls for one pod at a time):
 * createPod once, then updatePod any number of times, then deletePod once. The core calls updatePod
 * again with an unchanged spec when the pod's status changed, when a resync period passed, and when a
 * previous SyncResult asked for it — so a provider may converge in small steps (start the next init
 * container, restart a crashed container after its back-off) and treat an unchanged spec as "check
 * and repair". A provider that manages restarts itself may treat such calls as no-ops.
 */
export interface PodLifecycleHandler {
  /** Start running a new pod. Idempotent: a pod that already exists (after a node restart) is adopted. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a provider with nothing to say returns nothing
  createPod(pod: Pod, signal: AbortSignal): Promise<SyncResult | void>;
  /** Bring a running pod in line with `pod` (same UID). */
  // biome-ignore lint/suspicious/noConfusingVoidType: a provider with nothing to say returns nothing
  updatePod(pod: Pod, signal: AbortSignal): Promise<SyncResult | void>;
  /**
   * Stop the pod within its grace period (metadata.deletionGracePeriodSeconds, else
   * spec.terminationGracePeriodSeconds, else 30 s) and release everything it holds. Deleting a
   * pod the provider does not know is not an error.
   */
  deletePod(pod: Pod, signal: AbortSignal): Promise<void>;
  /** The pod as the provider knows it (spec as given, status current), or undefined. */
  getPod(namespace: string, name: string, signal: AbortSignal): Promise<Pod | undefined>;
  /** The pod's current status, or undefined when the provider does not know the pod. */
  getPodStatus(namespace: string, name: string, signal: AbortSignal): Promise<PodStatus | undefined>;
  /**
   * Every pod the provider runs, with current status — including pods the node core did not hand it
   * in this process's lifetime (left from before a restart), so that the core can clean them up.
   */
  getPods(signal: AbortSignal): Promise<Pod[]>;
}

/** Optional: a provider that can push status changes instead of being polled. */
export interface PodNotifier {
  /** Call `onPodChanged` with the whole pod (status current) whenever its status changes, until `signal` aborts. */
  notifyPods(onPodChanged: (pod: Pod) => void, signal: AbortSignal): void;
}

/** Optional hooks behind the node HTTP API; a missing hook answers 501 Not Implemented. */
export interface NodeApiHandler {
  getContainerLogs?(
    namespace: string,
    podName: string,
    containerName: string,
    options: ContainerLogOptions,
    signal: AbortSignal,
  ): Promise<AsyncIterable<Uint8Array>>;
  runInContainer?(
    namespace: string,
    podName: string,
    containerName: string,
    command: string[],
    io: ExecIO,
    signal: AbortSignal,
  ): Promise<ExecResult>;
  attachToContainer?(namespace: string, podName: string, containerName: string, io: ExecIO, signal: AbortSignal): Promise<void>;
  portForward?(
    namespace: string,
    podName: string,
    port: number,
    /** The client's connection: its bytes, and where the pod's go (a returned promise paces the provider). */
    stream: { readable: AsyncIterable<Uint8Array>; write(chunk: Uint8Array): void | Promise<void> },
    signal: AbortSignal,
  ): Promise<void>;
  getStatsSummary?(signal: AbortSignal): Promise<PodStats[]>;
}

export interface KillContainerOptions {
  /** Why, for the log: "Container web failed liveness probe, will be restarted". */
  reason: string;
  /** How long the container gets to stop (the probe's terminationGracePeriodSeconds, else the pod's). */
  graceSeconds: number;
}

/** Optional: what the node's prober needs when a liveness or startup probe fails. */
export interface ContainerKiller {
  /**
   * Stop the running container; the pod's restartPolicy then decides what happens, as after any
   * exit (the next updatePod restarts it, with back-off). Without this hook failed liveness probes
   * are only logged. Exec probes use runInContainer.
   */
  killContainer(pod: Pod, containerName: string, options: KillContainerOptions, signal: AbortSignal): Promise<void>;
}

/** A container instance's current probe result (by its status containerID), undefined before its first report. */
export type ProbeResultLookup = (
  containerID: string,
  kind: 'liveness' | 'readiness' | 'startup',
) => 'success' | 'failure' | 'unknown' | undefined;

/** Optional: the node's probe results, for a provider that acts on them. */
export interface ProbeResultsUser {
  /**
   * Called once, when the node's prober starts. A sidecar (restartable init container) with a
   * startup probe counts as started — and the next init container may run — once the probe
   * succeeded; the node syncs the pod when a startup or readiness result changes.
   */
  useProbeResults(results: ProbeResultLookup): void;
}

/** Optional: clean-up of what pods leave behind outside the runtime (volume directories, …). */
export interface PodHousekeeper {
  /**
   * Called after relists, once every pod source was read (the kubelet's pod clean-up), with the UIDs of
   * every pod the node still has: wanted, terminating, or still held by the provider. Whatever the
   * provider keeps for any other pod may go. Never called for two relists at once.
   */
  cleanupPods(activeUids: ReadonlySet<string>, signal: AbortSignal): Promise<void>;
}

/** What a provider tells the node about the backend, for the Node object in API-server mode. */
export interface ProviderNodeStatus {
  /** nodeInfo.containerRuntimeVersion: `containerd://1.7.2`, `berth://0.1.0`. */
  runtimeVersion?: string;
  /** Replaces the host's capacity (a virtual node reports its backend's): cpu, memory, pods, … as quantities. */
  capacity?: Record<string, string>;
  /** Replaces allocatable (default: the capacity). */
  allocatable?: Record<string, string>;
  /** False makes the node NotReady, with `message` saying why (the runtime or its network is down). */
  ready: boolean;
  message?: string;
  /** The runtime's handlers (RuntimeClass names) with what each supports, for people to read. */
  runtimeHandlers?: { name: string; features: string[] }[];
}

/** Optional: the backend's health and size, reported in the Node's status. Without it the node reports the host's. */
export interface NodeStatusProvider {
  nodeStatus(signal: AbortSignal): Promise<ProviderNodeStatus>;
}

/** What a provider implements: the lifecycle, optionally push notifications, node-API hooks and container kills. */
export interface PodProvider
  extends PodLifecycleHandler,
    NodeApiHandler,
    Partial<PodNotifier>,
    Partial<ContainerKiller>,
    Partial<ProbeResultsUser>,
    Partial<NodeStatusProvider>,
    Partial<PodHousekeeper> {
  /** Release connections and timers; pods keep running. */
  close?(): Promise<void>;
}

export type EventType = 'Normal' | 'Warning';

/**
 * Records Kubernetes Events about pods, as the kubelet does (Pulling, Pulled, Created, Started,
 * Killing, BackOff, Unhealthy, Failed, …). In API-server mode they become core/v1 Events; in
 * standalone mode they are only logged. Recording never fails and never blocks.
 */
export interface EventRecorder {
  /** An event about the pod, or about one of its containers when `container` is given. */
  podEvent(pod: Pod, type: EventType, reason: string, message: string, container?: string): void;
  /** An event about the Node itself (image garbage collection: FreeDiskSpaceFailed, ImageGCFailed, …). */
  nodeEvent?(type: EventType, reason: string, message: string): void;
}

/**
 * The secrets of the pods' namespaces: image pull secrets, secret volumes, secretKeyRef and envFrom.
 * From the API server in API-server mode, from Secret files in the manifest folder in standalone mode.
 */
export interface SecretSource {
  /** The secret, or undefined when it does not exist. */
  getSecret(namespace: string, name: string, signal: AbortSignal): Promise<Secret | undefined>;
}

/** The ConfigMaps of the pods' namespaces, from the same places as the secrets: configMap volumes, configMapKeyRef, envFrom. */
export interface ConfigMapSource {
  /** The ConfigMap, or undefined when it does not exist. */
  getConfigMap(namespace: string, name: string, signal: AbortSignal): Promise<ConfigMap | undefined>;
}

/** What a serviceAccountToken projection asks for. */
export interface ServiceAccountTokenRequest {
  audience?: string;
  /** At least 600; the API's default is 3600. */
  expirationSeconds: number;
}

/**
 * Tokens of the pods' service accounts, bound to the pod (TokenRequest API), for projected
 * volumes. Answers from a cache and requests a new token when 80 % of its lifetime passed or it
 * is older than 24 h, as the kubelet's token manager. API-server mode only.
 */
export interface ServiceAccountTokenSource {
  /** The token (JWT) for the pod's service account (spec.serviceAccountName, else `default`). */
  getToken(pod: Pod, request: ServiceAccountTokenRequest, signal: AbortSignal): Promise<string>;
  /** Drops the cached tokens of a pod that is gone. */
  forgetPod(uid: string): void;
}

/** The services of a namespace, for the containers' service environment variables. API-server mode only. */
export interface ServiceSource {
  listServices(namespace: string, signal: AbortSignal): Promise<Service[]>;
}

/** What the node hands a provider factory. */
export interface ProviderContext {
  nodeName: string;
  /** The node's address, reported as status.hostIP. */
  nodeIP?: string;
  logger: Logger;
  /** Provider-specific settings from the node configuration (for `cri`: runtimeEndpoint, …). */
  config: Record<string, unknown>;
  signal: AbortSignal;
  /** Where to record events about pods; absent: none are recorded. */
  events?: EventRecorder;
  /** Secrets of the pods' namespaces (API server, or the manifest folder in standalone mode). */
  secrets?: SecretSource;
  /** ConfigMaps of the pods' namespaces (API server, or the manifest folder in standalone mode). */
  configMaps?: ConfigMapSource;
  /** Service account tokens for projected volumes; absent in standalone mode. */
  tokens?: ServiceAccountTokenSource;
  /** Services for the containers' environment variables; absent in standalone mode (no variables). */
  services?: ServiceSource;
}

/** What an event about the pod (or one of its containers) names as its involvedObject. */
export function podEventReference(pod: Pod, container?: string): ObjectReference {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    namespace: pod.metadata.namespace,
    name: pod.metadata.name,
    uid: pod.metadata.uid,
    ...(container !== undefined ? { fieldPath: containerFieldPath(pod, container) } : {}),
  };
}

/** The fieldPath of an event about one of the pod's containers: `spec.containers{web}`, `spec.initContainers{prepare}`. */
export function containerFieldPath(pod: Pod, container: string): string {
  const init = (pod.spec.initContainers ?? []).some((c) => c.name === container);
  return `spec.${init ? 'initContainers' : 'containers'}{${container}}`;
}

/** A provider module exports this as `createProvider` (or as its default export). */
export type ProviderFactory = (context: ProviderContext) => PodProvider | Promise<PodProvider>;

export function hasNotifier(provider: PodProvider): provider is PodProvider & PodNotifier {
  return typeof provider.notifyPods === 'function';
}
