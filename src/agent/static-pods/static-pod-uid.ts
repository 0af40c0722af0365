// The UID of a static pod, derived from its manifest as the kubelet derives it (config/common.go
// applyDefaults): an MD5 over the decoded pod, then `host:<node name>` and `file:<path>`, in hex.
// The kubelet hashes its Go struct; berth hashes the decoded object as canonical JSON (keys sorted),
// so the UID changes exactly when the pod's content, the node or the file's path does — formatting,
// comments and key order do not count.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every level: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function staticPodUid(decodedPod: unknown, nodeName: string, manifestPath: string): string {
  const hash = createHash('md5');
  hash.update(canonicalJson(decodedPod));
  hash.update(`host:${nodeName}`);
  hash.update(`file:${manifestPath}`);
  return hash.digest('hex');
}
