// How the dockershim lays pods out in Docker, as cri-dockerd (and the kubelet's dockershim before
// it) does, so that a node moving from cri-dockerd keeps its pods: names that make creation
// idempotent, and labels that carry what Docker has no field for (the CRI annotations among them).

/** Labels the dockershim sets for itself; never shown as CRI labels. */
export const TYPE_LABEL = 'io.kubernetes.docker.type';
export const SANDBOX_ID_LABEL = 'io.kubernetes.sandbox.id';
export const LOG_PATH_LABEL = 'io.kubernetes.container.logpath';
/**
 * berth's own: the keys of the CRI's labels, as Docker merges the image's labels into the
 * container's. Without it (a container cri-dockerd made) every label is the CRI's, as there.
 */
export const CRI_LABEL_KEYS_LABEL = 'io.berth.cri-label-keys';
const CONTAINER_NAME_LABEL = 'io.kubernetes.container.name';
const ANNOTATION_PREFIX = 'annotation.';
const INTERNAL = new Set([TYPE_LABEL, SANDBOX_ID_LABEL, LOG_PATH_LABEL, CRI_LABEL_KEYS_LABEL]);

/** The name of the infra container, as cri-dockerd spells it. */
export const SANDBOX_CONTAINER_NAME = 'POD';

interface PodMetadata {
  name: string;
  namespace: string;
  uid: string;
  attempt: number;
}

interface ContainerMetadata {
  name: string;
  attempt: number;
}

/** `k8s_POD_<pod>_<namespace>_<uid>_<attempt>` */
export function sandboxName(pod: PodMetadata): string {
  return ['k8s', SANDBOX_CONTAINER_NAME, pod.name, pod.namespace, pod.uid, String(pod.attempt)].join('_');
}

/** `k8s_<container>_<pod>_<namespace>_<uid>_<attempt>` */
export function containerName(pod: Omit<PodMetadata, 'attempt'>, container: ContainerMetadata): string {
  return ['k8s', container.name, pod.name, pod.namespace, pod.uid, String(container.attempt)].join('_');
}

function nameParts(dockerName: string): string[] | undefined {
  const parts = dockerName.replace(/^\//, '').split('_');
  // cri-dockerd tolerates a random suffix (added when Docker reported a stale name conflict).
  if ((parts.length !== 6 && parts.length !== 7) || parts[0] !== 'k8s' || !/^\d+$/.test(parts[5]!)) return undefined;
  return parts;
}

/** The pod metadata in a sandbox's Docker name, or undefined when it is not one of ours. */
export function parseSandboxName(dockerName: string): PodMetadata | undefined {
  const p = nameParts(dockerName);
  return p && { name: p[2]!, namespace: p[3]!, uid: p[4]!, attempt: Number(p[5]) };
}

/** The container metadata in a container's Docker name. */
export function parseContainerName(dockerName: string): ContainerMetadata | undefined {
  const p = nameParts(dockerName);
  return p && { name: p[1]!, attempt: Number(p[5]) };
}

/** CRI labels and annotations as Docker labels (annotations under `annotation.`), with ours on top. */
export function dockerLabels(
  labels: Record<string, string>,
  annotations: Record<string, string>,
  internal: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = { ...labels };
  for (const [k, v] of Object.entries(annotations)) out[`${ANNOTATION_PREFIX}${k}`] = v;
  return { ...out, ...internal, [CRI_LABEL_KEYS_LABEL]: JSON.stringify(Object.keys(out).sort()) };
}

function criKeys(recorded: string | undefined): Set<string> | undefined {
  if (recorded === undefined) return undefined;
  try {
    const keys: unknown = JSON.parse(recorded);
    return Array.isArray(keys) ? new Set(keys.map(String)) : undefined;
  } catch {
    return undefined;
  }
}

/** Docker labels back as the CRI labels and annotations, without the dockershim's own. */
export function criLabels(docker: Record<string, string> | undefined): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  const isSandbox = docker?.[TYPE_LABEL] === 'podsandbox';
  const keys = criKeys(docker?.[CRI_LABEL_KEYS_LABEL]);
  for (const [k, v] of Object.entries(docker ?? {})) {
    if (INTERNAL.has(k) || (keys !== undefined && !keys.has(k))) continue;
    if (isSandbox && k === CONTAINER_NAME_LABEL) continue; // cri-dockerd adds it to sandboxes for `docker ps`
    if (k.startsWith(ANNOTATION_PREFIX)) annotations[k.slice(ANNOTATION_PREFIX.length)] = v;
    else labels[k] = v;
  }
  return { labels, annotations };
}

/** The sandbox's label of the container name (`docker ps` users see POD). */
export function sandboxInternalLabels(): Record<string, string> {
  return { [TYPE_LABEL]: 'podsandbox', [CONTAINER_NAME_LABEL]: SANDBOX_CONTAINER_NAME };
}

export function containerInternalLabels(sandboxId: string, logPath: string): Record<string, string> {
  return { [TYPE_LABEL]: 'container', [SANDBOX_ID_LABEL]: sandboxId, [LOG_PATH_LABEL]: logPath };
}
