// CreateContainer: the container's writable snapshot on its image, its rootfs mounted, and the OCI
// bundle written. The monitor and the runtime come at StartContainer (as containerd does), so a
// created container costs no process.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { containerConfig, podNamespaceOptions } from '../cri-api/cri-spec-input.ts';
import type { ContainerConfig, PodSandboxConfig } from '../cri-api/gen/runtime/v1/api_pb.js';
import { failedPrecondition, invalidArgument, notFound } from '../errors/errors.ts';
import { DEFAULT_APPARMOR_PROFILE } from '../runtime/spec/apparmor.ts';
import { buildContainerSpec } from '../runtime/spec/container-spec.ts';
import { mountAll, unmount } from '../snapshot/mount.ts';
import type { ContainerRecord } from '../store/pod-store.ts';
import { withCleanup } from '../util/cleanup-stack.ts';
import { publishContainerEvent } from './container-events.ts';
import { containerName, newId, nowNanos } from './names.ts';
import type { PodDeps } from './pod-deps.ts';
import { prepareUserNamespaceRootfs } from './userns-rootfs.ts';

export function defaultCgroupParent(deps: PodDeps): string {
  return deps.config.cgroup_driver === 'systemd' ? 'berth.slice' : '/berth';
}

export function snapshotKey(id: string): string {
  return `container-${id}`;
}

export async function createContainer(
  deps: PodDeps,
  podId: string,
  config: ContainerConfig,
  podConfig: PodSandboxConfig | undefined,
  signal?: AbortSignal,
): Promise<ContainerRecord> {
  const pod = deps.store.findSandbox(podId);
  if (pod.state !== 'ready') throw failedPrecondition('sandbox-not-ready', `pod sandbox ${pod.id} is not ready`);
  if (!config.metadata?.name) throw invalidArgument('bad-metadata', 'the container config needs metadata with a name');
  const imageSpec = config.image?.image ?? '';
  if (imageSpec === '') throw invalidArgument('bad-image', 'the container config names no image');
  const image = deps.images.images.resolve(imageSpec);
  if (!image)
    throw notFound('image-not-found', `image "${imageSpec}" is not present on the node; pull it first`, { fields: { image: imageSpec } });
  const imageConfig = await deps.images.readConfig(image.config.digest);
  const metadata = { name: config.metadata.name, attempt: config.metadata.attempt };
  const id = newId();
  const name = containerName(metadata, pod.metadata);
  const sandboxConfig = podConfig ?? pod.config;
  const log = deps.logger.child({ container: id, name });

  return withCleanup(
    async (undo) => {
      undo.push('name', deps.store.reserveName(name, id));
      const bundle = deps.paths.container(id);
      const rootfs = path.join(bundle, 'rootfs');
      await mkdir(rootfs, { recursive: true, mode: 0o700 });
      undo.push('bundle', () => rm(bundle, { recursive: true, force: true }));
      const key = snapshotKey(id);
      const mounts = await deps.images.snapshotter.prepare(key, image.chainIds.at(-1), { 'berth/container': id });
      undo.push('snapshot', () => deps.images.snapshotter.remove(key));
      await mountAll(mounts, rootfs, signal);
      undo.push('rootfs', () => unmount(rootfs, { detach: true }));

      const logDir = sandboxConfig?.logDirectory ?? '';
      const logPath = logDir && config.logPath ? path.join(logDir, config.logPath) : '';
      if (logPath) await mkdir(path.dirname(logPath), { recursive: true });

      const targetId = config.linux?.securityContext?.namespaceOptions?.targetId;
      const target = targetId ? deps.store.getContainer(targetId) : undefined;
      if (targetId && (!target || target.pid <= 0)) throw notFound('target-not-found', `target container ${targetId} is not running`);
      // Another pod's PID namespace would let this container see and signal that pod's processes.
      if (target && target.sandboxId !== pod.id) {
        throw invalidArgument('target-other-pod', `target container ${targetId} belongs to another pod`, {
          fields: { targetId, pod: pod.id },
        });
      }
      const infraPid = pod.infraPid;
      const input = containerConfig(config);
      const nsOptions = input.securityContext?.namespaceOptions;
      // A pod without a shared PID namespace (pid mode CONTAINER) gives each container its own;
      // "the pod's" network or IPC namespace of a pod on the host's is the host's.
      if (nsOptions && nsOptions.pid === 'pod' && !infraPid) nsOptions.pid = 'container';
      if (nsOptions && nsOptions.network === 'pod' && !pod.namespaces.net) nsOptions.network = 'node';
      if (nsOptions && nsOptions.ipc === 'pod' && !pod.namespaces.ipc) nsOptions.ipc = 'node';
      const spec = await buildContainerSpec({
        id,
        config: input,
        image: imageConfig.config ?? {},
        imageName: imageSpec,
        rootfs,
        pod: {
          id: pod.id,
          name: pod.metadata.name,
          namespace: pod.metadata.namespace,
          uid: pod.metadata.uid,
          hostname: sandboxConfig?.hostname || '',
          privileged: sandboxConfig?.linux?.securityContext?.privileged,
          // Without a parent the runtime would nest the container in the daemon's own cgroups.
          cgroupParent: pod.cgroupParent || defaultCgroupParent(deps),
          namespacePaths: {
            network: pod.namespaces.net,
            ipc: pod.namespaces.ipc,
            uts: pod.namespaces.uts,
            pid: infraPid ? `/proc/${infraPid}/ns/pid` : undefined,
          },
          hostsPath: pod.files.hosts,
          resolvConfPath: pod.files.resolvConf,
          hostnamePath: pod.files.hostname,
          shmPath: pod.files.shm,
          namespaceOptions: sandboxConfig ? podNamespaceOptions(sandboxConfig) : undefined,
        },
        host: deps.host,
        targetPidNamespace: target ? `/proc/${target.pid}/ns/pid` : undefined,
        annotations: config.annotations,
      });
      // runc refuses a profile the kernel does not have: load ours first, as containerd does.
      if (spec.process?.apparmorProfile === DEFAULT_APPARMOR_PROFILE) {
        if (deps.appArmor === undefined) {
          throw failedPrecondition(
            'apparmor-profile-load',
            `the AppArmor profile ${DEFAULT_APPARMOR_PROFILE} has no loader on this daemon`,
          );
        }
        await deps.appArmor.ensureLoaded();
      }
      const uidMappings = spec.linux?.uidMappings;
      const gidMappings = spec.linux?.gidMappings;
      if (uidMappings !== undefined && gidMappings !== undefined)
        await prepareUserNamespaceRootfs(bundle, rootfs, { uidMappings, gidMappings }, spec.mounts ?? []);
      await writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));

      const record: ContainerRecord = {
        id,
        sandboxId: pod.id,
        name,
        metadata,
        state: 'created',
        createdAt: nowNanos(),
        startedAt: '0',
        finishedAt: '0',
        exitCode: 0,
        reason: '',
        message: '',
        labels: config.labels,
        annotations: config.annotations,
        image: { spec: imageSpec, id: image.id, ref: image.repoDigests[0] ?? image.id },
        logPath,
        config,
        runtimeHandler: pod.runtimeHandler,
        bundle,
        snapshotKey: key,
        pid: 0,
        conmonPid: 0,
        cgroupsPath: spec.linux?.cgroupsPath ?? '',
      };
      deps.store.putContainer(record);
      log.info({ pod: pod.id, image: imageSpec }, 'container created');
      publishContainerEvent(deps, id, pod.id, 'created');
      return record;
    },
    (step, e) => log.warn({ step, err: e }, 'undo step failed'),
  );
}
