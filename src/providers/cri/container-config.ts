// A container's CRI config, as the kubelet generates it (kuberuntime_container.go
// generateContainerConfig): metadata with the restart count as attempt, the pulled image,
// command and args with `$(VAR)` expanded, env, the kubelet's labels and annotations, a log path
// of `<name>/<restartCount>.log` under the pod's log directory, resources and security context.
import type { MessageInitShape } from '@bufbuild/protobuf';
import type { NamedValue } from '../../agent/container-env.ts';
import { expandCommandAndArgs } from '../../agent/container-env.ts';
import type { Container, Pod } from '../../agent/k8s-types.ts';
import type { ContainerConfigSchema } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { linuxContainerResources, type ResourceSettings } from './container-resources.ts';
import {
  CONTAINER_HASH_ANNOTATION,
  CONTAINER_NAME_LABEL,
  CONTAINER_PORTS_ANNOTATION,
  CONTAINER_RESTART_COUNT_ANNOTATION,
  POD_NAME_LABEL,
  POD_NAMESPACE_LABEL,
  POD_TERMINATION_GRACE_PERIOD_ANNOTATION,
  POD_UID_LABEL,
  TERMINATION_MESSAGE_PATH_ANNOTATION,
  TERMINATION_MESSAGE_POLICY_ANNOTATION,
} from './kubelet-labels.ts';
import { containerSecurityContext } from './security-context.ts';
import type { CriMount } from './volumes/container-mounts.ts';

export type ContainerConfigInit = MessageInitShape<typeof ContainerConfigSchema>;

export interface ContainerSettings extends ResourceSettings {
  restartCount: number;
  /** The image ID the pull (or image status) returned. */
  imageRef: string;
  env: NamedValue[];
  /** The volume mounts (volumes/container-mounts.ts). */
  mounts?: CriMount[];
  hash: string;
}

export function containerLabels(pod: Pod, container: Container): Record<string, string> {
  return {
    [POD_NAME_LABEL]: pod.metadata.name ?? '',
    [POD_NAMESPACE_LABEL]: pod.metadata.namespace ?? '',
    [POD_UID_LABEL]: pod.metadata.uid ?? '',
    [CONTAINER_NAME_LABEL]: container.name,
  };
}

export function containerAnnotations(
  pod: Pod,
  container: Container,
  settings: Pick<ContainerSettings, 'hash' | 'restartCount'>,
): Record<string, string> {
  return {
    [CONTAINER_HASH_ANNOTATION]: settings.hash,
    [CONTAINER_RESTART_COUNT_ANNOTATION]: String(settings.restartCount),
    [TERMINATION_MESSAGE_PATH_ANNOTATION]: container.terminationMessagePath ?? '/dev/termination-log',
    [TERMINATION_MESSAGE_POLICY_ANNOTATION]: container.terminationMessagePolicy ?? 'File',
    ...(pod.spec.terminationGracePeriodSeconds !== undefined
      ? { [POD_TERMINATION_GRACE_PERIOD_ANNOTATION]: String(pod.spec.terminationGracePeriodSeconds) }
      : {}),
    ...(container.ports !== undefined && container.ports.length > 0
      ? { [CONTAINER_PORTS_ANNOTATION]: JSON.stringify(container.ports) }
      : {}),
  };
}

export function containerLogPath(container: Container, restartCount: number): string {
  return `${container.name}/${restartCount}.log`;
}

export function containerConfig(pod: Pod, container: Container, settings: ContainerSettings): ContainerConfigInit {
  const { command, args } = expandCommandAndArgs(container, settings.env);
  return {
    metadata: { name: container.name, attempt: settings.restartCount },
    image: { image: settings.imageRef, userSpecifiedImage: container.image ?? '' },
    command,
    args,
    workingDir: container.workingDir ?? '',
    // This repository's CRI proto types KeyValue.value as bytes (upstream: string; same wire format).
    envs: settings.env.map((e) => ({ key: e.name, value: Buffer.from(e.value, 'utf8') })),
    mounts: settings.mounts ?? [],
    labels: containerLabels(pod, container),
    annotations: containerAnnotations(pod, container, settings),
    logPath: containerLogPath(container, settings.restartCount),
    stdin: container.stdin === true,
    stdinOnce: container.stdinOnce === true,
    tty: container.tty === true,
    linux: {
      resources: linuxContainerResources(pod, container, settings),
      securityContext: containerSecurityContext(pod, container),
    },
  };
}
