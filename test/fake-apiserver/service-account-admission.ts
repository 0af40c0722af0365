// The ServiceAccount admission plugin (plugin/pkg/admission/serviceaccount): a pod gets the
// namespace's `default` service account unless it names one, which must exist, and, unless
// automounting is off, the kube-api-access-* projected volume (a bound token, the cluster's CA,
// the namespace) mounted in every container. Mirror pods may name no account, Secret or token.
import { randomBytes } from 'node:crypto';
import { forbidden } from './api-error.ts';
import type { ApiObject, Loose } from './api-object.ts';
import { DEFAULT_MODE } from './pod-defaults.ts';
import { secretNames } from './pod-references.ts';

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';
export const TOKEN_MOUNT_PATH = '/var/run/secrets/kubernetes.io/serviceaccount';
const VOLUME_PREFIX = 'kube-api-access-';

const isMirror = (pod: ApiObject) => pod.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined;

/** A random suffix of five characters, as names from generateName get. */
export function nameSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

function tokenVolume(name: string): Loose {
  return {
    name,
    projected: {
      defaultMode: DEFAULT_MODE,
      sources: [
        { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
        { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
      ],
    },
  };
}

/** Admits a new pod in place; `serviceAccount` finds an account of the pod's namespace. */
export function admitServiceAccount(pod: ApiObject, serviceAccount: (name: string) => ApiObject | undefined): void {
  const spec = pod.spec as Loose;
  const name = pod.metadata.name ?? '';
  if (isMirror(pod)) {
    if (spec.serviceAccountName) throw forbidden('pods', name, 'mirror pods may not reference service accounts');
    if (secretNames(spec).size > 0) throw forbidden('pods', name, 'mirror pods may not reference secrets');
    const projections = (spec.volumes ?? []).flatMap((v: Loose) => v.projected?.sources ?? []);
    if (projections.some((source: Loose) => source.serviceAccountToken))
      throw forbidden('pods', name, 'mirror pods may not use service account token volume projections');
    return;
  }
  spec.serviceAccountName ||= 'default';
  spec.serviceAccount = spec.serviceAccountName;
  const account = serviceAccount(spec.serviceAccountName);
  if (account === undefined) {
    throw forbidden(
      'pods',
      name,
      `error looking up service account ${pod.metadata.namespace}/${spec.serviceAccountName}: serviceaccount "${spec.serviceAccountName}" not found`,
    );
  }
  const automount = spec.automountServiceAccountToken ?? (account as Loose).automountServiceAccountToken ?? true;
  if (!automount) return;
  const existing = (spec.volumes ?? []).find((v: Loose) => String(v.name).startsWith(VOLUME_PREFIX));
  const volumeName: string = existing?.name ?? `${VOLUME_PREFIX}${nameSuffix()}`;
  let needed = false;
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    if ((c.volumeMounts ?? []).some((m: Loose) => m.mountPath === TOKEN_MOUNT_PATH)) continue;
    c.volumeMounts = [...(c.volumeMounts ?? []), { name: volumeName, readOnly: true, mountPath: TOKEN_MOUNT_PATH }];
    needed = true;
  }
  if (existing === undefined && needed) spec.volumes = [...(spec.volumes ?? []), tokenVolume(volumeName)];
}
