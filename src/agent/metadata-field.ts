// The pod metadata a downward API fieldRef reads alike for env and for downwardAPI volumes: name,
// namespace, uid and one label or annotation by key.
import type { Pod } from './k8s-types.ts';

const LABEL_OR_ANNOTATION = /^metadata\.(labels|annotations)\['(.+)'\]$/;

/** The value of a metadata fieldPath; undefined for any other path (each caller has its own more). */
export function metadataFieldValue(pod: Pod, fieldPath: string): string | undefined {
  const meta = pod.metadata;
  switch (fieldPath) {
    case 'metadata.name':
      return meta.name ?? '';
    case 'metadata.namespace':
      return meta.namespace ?? '';
    case 'metadata.uid':
      return meta.uid ?? '';
  }
  const m = LABEL_OR_ANNOTATION.exec(fieldPath);
  if (m) return (m[1] === 'labels' ? meta.labels : meta.annotations)?.[m[2]!] ?? '';
  return undefined;
}
