// A short hash of a container's spec, kept on the CRI container as io.kubernetes.container.hash:
// a running container whose spec no longer hashes the same is replaced (the kubelet's HashContainer).
import { createHash } from 'node:crypto';
import type { Container } from '../../agent/k8s-types.ts';
import { canonicalJson } from '../../agent/static-pods/static-pod-uid.ts';

export function containerHash(container: Container): string {
  return createHash('sha256').update(canonicalJson(container)).digest('hex').slice(0, 16);
}
