// IDs and the unique names the kubelet's metadata makes (containerd's naming).
import { randomBytes } from 'node:crypto';
import { invalidArgument } from '../errors/errors.ts';

export function newId(): string {
  return randomBytes(32).toString('hex');
}

export interface PodMetadata {
  name: string;
  uid: string;
  namespace: string;
  attempt: number;
}

export function checkPodMetadata(m: { name?: string; uid?: string; namespace?: string; attempt?: number } | undefined): PodMetadata {
  if (!m || !m.name) throw invalidArgument('bad-metadata', 'the pod sandbox config needs metadata with a name');
  return { name: m.name, uid: m.uid ?? '', namespace: m.namespace ?? '', attempt: m.attempt ?? 0 };
}

export function sandboxName(m: PodMetadata): string {
  return [m.name, m.namespace, m.uid, String(m.attempt)].join('_');
}

export function containerName(container: { name: string; attempt: number }, pod: PodMetadata): string {
  return [container.name, pod.name, pod.namespace, pod.uid, String(container.attempt)].join('_');
}

export function nowNanos(): string {
  return (BigInt(Date.now()) * 1_000_000n).toString();
}
