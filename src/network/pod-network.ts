// A pod's network by role (set up, tear down, check, readiness), and its CNI implementation.
import { type BerthError, failedPrecondition, internal, invalidArgument, isBerthError, toBerthError } from '../errors/errors.ts';
import { KeyedLock } from '../util/keyed-lock.ts';
import {
  addNetworkList,
  type CniAttachment,
  type CniBandwidth,
  type CniDnsCapability,
  type CniIpRange,
  type CniOptions,
  type CniPortMapping,
  type CniResult,
  type CniRuntimeConfig,
  checkNetworkList,
  delCachedAttachment,
  delNetworkList,
  listCachedAttachments,
} from './cni.ts';
import { type CniNetworkConfList, loadDefaultNetwork, missingPlugins } from './cni-config.ts';
import { podIps } from './cni-result.ts';

/** A CRI PortMapping. Only mappings with a host port reach the network. */
export interface PodPortMapping {
  /** `TCP` (default), `UDP` or `SCTP`, any case. */
  protocol?: string;
  containerPort: number;
  hostPort?: number;
  /** The host address to listen on; empty for all. */
  hostIp?: string;
}

/** What the network needs to know of a pod. */
export interface NetworkPod {
  /** The sandbox id: CNI_CONTAINERID and K8S_POD_INFRA_CONTAINER_ID. */
  id: string;
  name: string;
  namespace: string;
  uid: string;
  /** The pod's pinned network namespace. */
  netnsPath: string;
  portMappings?: readonly PodPortMapping[];
  /** Traffic shaping, for networks with the bandwidth plugin. */
  bandwidth?: CniBandwidth;
  /** DNS settings, for plugins with the `dns` capability. */
  dns?: CniDnsCapability;
  /** Address ranges to allocate from, for IPAM with the `ipRanges` capability. */
  ipRanges?: CniIpRange[][];
}

export interface PodNetworkSetUp {
  /** IPv4 first, then IPv6: the first is the pod IP. */
  ips: string[];
  /** The final CNI result. */
  result: CniResult;
  /** The name of the network the pod is attached to. */
  network: string;
}

export interface PodNetworkStatus {
  ready: boolean;
  /** Why not ready (kubelet's NetworkReady condition message); empty when ready. */
  message: string;
}

/**
 * A pod's network by role. setUp either succeeds or leaves nothing behind; tearDown is idempotent
 * and runs to the end even when a request was cancelled; check reports drift; status says whether
 * pods can be networked at all.
 */
export interface PodNetwork {
  setUp(pod: NetworkPod, signal?: AbortSignal): Promise<PodNetworkSetUp>;
  /** `signal` only for stopping cleanup itself (daemon shutdown), never a request's. */
  tearDown(pod: NetworkPod, signal?: AbortSignal): Promise<void>;
  check(pod: NetworkPod, signal?: AbortSignal): Promise<void>;
  status(signal?: AbortSignal): Promise<PodNetworkStatus>;
}

export interface CniPodNetworkOptions {
  /** Where the network configuration is: the first file by name is used (cni-config.ts). */
  confDir: string;
  /** Plugin directories, in search order. */
  binDirs: readonly string[];
  /** Attachment records (see cni.ts); must survive daemon restarts. */
  cacheDir: string;
  /** Bound on each teardown (DEL of the whole list); default 60 s. */
  teardownTimeoutMs?: number;
}

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

/** CRI port mappings as the portmap plugin wants them; those without a host port are dropped. */
export function cniPortMappings(mappings: readonly PodPortMapping[] | undefined): CniPortMapping[] {
  const out: CniPortMapping[] = [];
  for (const m of mappings ?? []) {
    if (m.hostPort === undefined || m.hostPort === 0) continue;
    const protocol = (m.protocol ?? 'tcp').toLowerCase();
    const fields = { ...m };
    if (!PROTOCOLS.has(protocol)) throw invalidArgument('port-protocol-invalid', `unknown port protocol "${m.protocol}"`, { fields });
    for (const [what, port] of [
      ['host', m.hostPort],
      ['container', m.containerPort],
    ] as const) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw invalidArgument('port-invalid', `invalid ${what} port ${port}`, { fields });
      }
    }
    out.push({
      hostPort: m.hostPort,
      containerPort: m.containerPort,
      protocol: protocol as CniPortMapping['protocol'],
      ...(m.hostIp ? { hostIP: m.hostIp } : {}),
    });
  }
  return out;
}

function attachmentOf(pod: NetworkPod): CniAttachment {
  const runtimeConfig: CniRuntimeConfig = {};
  const portMappings = cniPortMappings(pod.portMappings);
  if (portMappings.length > 0) runtimeConfig.portMappings = portMappings;
  if (pod.bandwidth !== undefined) runtimeConfig.bandwidth = pod.bandwidth;
  if (pod.ipRanges !== undefined) runtimeConfig.ipRanges = pod.ipRanges;
  if (pod.dns !== undefined) runtimeConfig.dns = pod.dns;
  return {
    containerId: pod.id,
    netns: pod.netnsPath,
    args: [
      ['K8S_POD_NAMESPACE', pod.namespace],
      ['K8S_POD_NAME', pod.name],
      ['K8S_POD_INFRA_CONTAINER_ID', pod.id],
      ['K8S_POD_UID', pod.uid],
    ],
    runtimeConfig,
  };
}

/**
 * PodNetwork over CNI plugins, with the first configuration in `confDir` (read again on every
 * setUp and status: no watcher needed, and a new file takes effect for the next pod).
 */
export class CniPodNetwork implements PodNetwork {
  readonly #options: CniPodNetworkOptions;
  readonly #cni: CniOptions;
  readonly #locks = new KeyedLock();

  constructor(options: CniPodNetworkOptions) {
    this.#options = options;
    this.#cni = { binDirs: options.binDirs, cacheDir: options.cacheDir };
  }

  async #network(): Promise<CniNetworkConfList> {
    const net = await loadDefaultNetwork(this.#options.confDir);
    const missing = await missingPlugins(net, [...this.#options.binDirs]);
    if (missing.length > 0) {
      throw failedPrecondition(
        'cni-plugin-missing',
        `network "${net.name}" (${net.file}) needs CNI plugins that are not in ${this.#options.binDirs.join(', ')}: ${missing.join(', ')}`,
        { fields: { network: net.name, missing } },
      );
    }
    return net;
  }

  /**
   * ADD to the default network. When any plugin fails (or the request is cancelled, or the result
   * has no IP), the whole list is DELeted again with its own timeout before the error is thrown: no
   * veth, IP allocation or iptables rule remains. A record left by an earlier ADD for the same pod
   * (a daemon killed half-way) is DELeted first.
   */
  setUp(pod: NetworkPod, signal?: AbortSignal): Promise<PodNetworkSetUp> {
    return this.#locks.run(pod.id, async () => {
      const att = attachmentOf(pod);
      const net = await this.#network();
      await this.#delAll(pod, undefined);
      try {
        const result = await addNetworkList(this.#cni, net, att, signal);
        const ips = podIps(result, 'eth0');
        if (ips.length === 0) {
          throw internal('cni-no-ip', `network "${net.name}" gave pod ${pod.namespace}/${pod.name} no IP address`, {
            fields: { network: net.name, result: result.raw },
          });
        }
        return { ips, result, network: net.name };
      } catch (e) {
        const err = toBerthError(e);
        try {
          await delNetworkList(this.#cni, net, att, { timeoutMs: this.#options.teardownTimeoutMs });
        } catch (undoError) {
          err.fields.undoError = isBerthError(undoError) ? undoError.message : String(undoError);
        }
        throw err;
      }
    });
  }

  /**
   * DEL of every attachment on record for the pod (normally one; two after the network's name
   * changed). Nothing on record: nothing was ever added, or it was already removed. Call it
   * before removing the network namespace: the bridge plugin finds the pod's addresses (and so its
   * masquerade rules) inside it.
   */
  tearDown(pod: NetworkPod, signal?: AbortSignal): Promise<void> {
    return this.#locks.run(pod.id, () => this.#delAll(pod, signal));
  }

  async #delAll(pod: NetworkPod, signal: AbortSignal | undefined): Promise<void> {
    const errors: BerthError[] = [];
    for (const rec of await listCachedAttachments(this.#cni, pod.id)) {
      try {
        await delCachedAttachment(this.#cni, rec, pod.netnsPath, { timeoutMs: this.#options.teardownTimeoutMs, signal });
      } catch (e) {
        errors.push(toBerthError(e));
      }
    }
    if (errors.length > 0) throw errors[0]!;
  }

  /** CHECK against the default network (a no-op for configurations older than 0.4.0). */
  async check(pod: NetworkPod, signal?: AbortSignal): Promise<void> {
    const net = await this.#network();
    await checkNetworkList(this.#cni, net, attachmentOf(pod), signal);
  }

  /** Ready when a valid configuration is in confDir and its plugins are installed. */
  async status(): Promise<PodNetworkStatus> {
    try {
      await this.#network();
      return { ready: true, message: '' };
    } catch (e) {
      return { ready: false, message: `cni config uninitialized: ${toBerthError(e).message}` };
    }
  }
}
