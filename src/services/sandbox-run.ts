// RunPodSandbox: namespaces (pinned, no process), pod files, network, and an infra container
// only when the pod shares a PID namespace. Every step registers its undo; a failure leaves
// nothing behind and a retry with the same name succeeds.
import os from 'node:os';
import { podNamespaceOptions, securityProfile } from '../cri-api/cri-spec-input.ts';
import type { PodSandboxConfig } from '../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument } from '../errors/errors.ts';
import { createPodNamespaces, removePodNamespaces } from '../network/pod-namespaces.ts';
import type { NetworkPod } from '../network/pod-network.ts';
import { checkSandboxUserNamespace } from '../runtime/spec/user-namespace.ts';
import type { SandboxRecord } from '../store/pod-store.ts';
import { withCleanup } from '../util/cleanup-stack.ts';
import { defaultCgroupParent } from './container-create.ts';
import { publishContainerEvent } from './container-events.ts';
import { startInfraContainer } from './infra-container.ts';
import { checkPodMetadata, newId, nowNanos, sandboxName } from './names.ts';
import type { PodDeps } from './pod-deps.ts';
import { createPodFiles, removePodFiles } from './pod-files.ts';

export function resolveHandler(deps: PodDeps, handler: string): string {
  const name = handler || deps.config.default_runtime;
  if (!deps.runtimes.has(name)) {
    throw invalidArgument('unknown-runtime-handler', `no runtime handler "${handler}" (known: ${[...deps.runtimes.keys()].join(', ')})`, {
      fields: { handler },
    });
  }
  return name;
}

export function networkPod(s: SandboxRecord, config: PodSandboxConfig | undefined): NetworkPod {
  return {
    id: s.id,
    name: s.metadata.name,
    namespace: s.metadata.namespace,
    uid: s.metadata.uid,
    netnsPath: s.namespaces.net ?? '',
    portMappings: (config?.portMappings ?? []).map((p) => ({
      protocol: ['TCP', 'UDP', 'SCTP'][p.protocol] ?? 'TCP',
      containerPort: p.containerPort,
      hostPort: p.hostPort,
      hostIp: p.hostIp,
    })),
  };
}

export async function runPodSandbox(
  deps: PodDeps,
  config: PodSandboxConfig,
  handler: string,
  signal?: AbortSignal,
): Promise<SandboxRecord> {
  const metadata = checkPodMetadata(config.metadata);
  const runtimeHandler = resolveHandler(deps, handler);
  const ns = podNamespaceOptions(config);
  // Refused before anything is made: what a pod in a user namespace cannot have.
  checkSandboxUserNamespace(ns);
  const hostNetwork = ns.network === 'node';
  const hostIpc = ns.ipc === 'node';
  const sharedPid = ns.pid === 'pod';
  const id = newId();
  const name = sandboxName(metadata);
  const log = deps.logger.child({ pod: id, name });

  return withCleanup(
    async (undo) => {
      undo.push('name', deps.store.reserveName(name, id));
      const hostname = config.hostname || os.hostname();
      const namespaces = await createPodNamespaces({
        root: deps.paths.namespaces,
        podId: id,
        network: !hostNetwork,
        ipc: !hostIpc,
        uts: !hostNetwork,
        hostname,
        sysctls: config.linux?.sysctls,
        signal,
      });
      undo.push('namespaces', () => removePodNamespaces(namespaces));

      const files = await createPodFiles({
        dir: deps.paths.pod(id),
        hostname,
        dns: config.dnsConfig
          ? { servers: config.dnsConfig.servers, searches: config.dnsConfig.searches, options: config.dnsConfig.options }
          : undefined,
        hostNetwork,
        ownIpc: !hostIpc,
      });
      undo.push('pod files', () => removePodFiles(files.dir));

      const record: SandboxRecord = {
        id,
        name,
        metadata,
        state: 'ready',
        createdAt: nowNanos(),
        labels: config.labels,
        annotations: config.annotations,
        runtimeHandler,
        config,
        namespaces: { net: namespaces.net, ipc: namespaces.ipc, uts: namespaces.uts },
        hostNetwork,
        ips: [],
        cgroupParent: config.linux?.cgroupParent ?? '',
        files,
        networkAttached: false,
      };

      if (!hostNetwork) {
        const pod = networkPod(record, config);
        undo.push('network', () => deps.network.tearDown(pod));
        const attached = await deps.network.setUp(pod, signal);
        record.ips = attached.ips;
        record.networkAttached = true;
      }

      if (sharedPid) {
        const sc = config.linux?.securityContext;
        const infra = await startInfraContainer(
          deps,
          runtimeHandler,
          {
            id,
            name: metadata.name,
            namespace: metadata.namespace,
            uid: metadata.uid,
            hostname,
            cgroupParent: record.cgroupParent || defaultCgroupParent(deps),
            namespacePaths: { network: namespaces.net, ipc: namespaces.ipc, uts: namespaces.uts },
            shmPath: files.shm,
            resolvConfPath: files.resolvConf,
            securityContext: sc
              ? {
                  namespaceOptions: ns,
                  runAsUser: sc.runAsUser ? Number(sc.runAsUser.value) : undefined,
                  runAsGroup: sc.runAsGroup ? Number(sc.runAsGroup.value) : undefined,
                  readonlyRootfs: sc.readonlyRootfs,
                  supplementalGroups: sc.supplementalGroups.map(Number),
                  privileged: sc.privileged,
                  seccomp: securityProfile(sc.seccomp, sc.seccompProfilePath),
                }
              : { namespaceOptions: ns },
          },
          undo,
          signal,
        );
        record.infraContainerId = infra.id;
        record.infraPid = infra.pid;
      }

      deps.store.putSandbox(record);
      log.info({ ips: record.ips, hostNetwork, infra: sharedPid }, 'pod sandbox running');
      publishContainerEvent(deps, id, id, 'created');
      publishContainerEvent(deps, id, id, 'started');
      return record;
    },
    (step, e) => log.warn({ step, err: e }, 'undo step failed'),
  );
}
