// The files the kubelet itself mounts into every container, after its volume mounts: the pod's
// /etc/hosts and a fresh termination message file.
import type { Container, Pod } from '../../agent/k8s-types.ts';
import type { Logger } from '../../util/logger.ts';
import { type HostsFileSettings, hostsFileMount } from './hosts-file.ts';
import { terminationMessageMount } from './termination-message.ts';
import type { CriMount } from './volumes/container-mounts.ts';

/** Throws when the hosts file cannot be written; a message file that cannot be made is only logged, as by the kubelet. */
export async function kubeletFileMounts(
  pod: Pod,
  container: Container,
  podIPs: readonly string[],
  settings: HostsFileSettings,
  log: Logger,
): Promise<CriMount[]> {
  const mounts: CriMount[] = [];
  const hosts = await hostsFileMount(pod, container, podIPs, settings);
  if (hosts !== undefined) mounts.push(hosts);
  try {
    mounts.push(await terminationMessageMount(settings.rootDir, pod, container));
  } catch (e) {
    log.warn({ container: container.name, err: e }, 'cannot create the termination message file');
  }
  return mounts;
}
