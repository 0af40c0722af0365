// The API objects a pod refers to (podutil.VisitPodSecretNames, VisitPodConfigmapNames): what
// the Node authorizer lets a node read, and what a mirror pod may not name.
import type { Loose } from './api-object.ts';

function containers(spec: Loose): Loose[] {
  return [...(spec.initContainers ?? []), ...(spec.containers ?? []), ...(spec.ephemeralContainers ?? [])];
}

export function secretNames(spec: Loose): Set<string> {
  const names = new Set<string>();
  for (const s of spec.imagePullSecrets ?? []) if (s.name) names.add(s.name);
  for (const c of containers(spec)) {
    for (const from of c.envFrom ?? []) if (from.secretRef?.name) names.add(from.secretRef.name);
    for (const env of c.env ?? []) if (env.valueFrom?.secretKeyRef?.name) names.add(env.valueFrom.secretKeyRef.name);
  }
  for (const v of spec.volumes ?? []) {
    if (v.secret?.secretName) names.add(v.secret.secretName);
    for (const source of v.projected?.sources ?? []) if (source.secret?.name) names.add(source.secret.name);
    for (const kind of ['cephfs', 'cinder', 'flexVolume', 'iscsi', 'rbd', 'scaleIO', 'storageos', 'csi'])
      if (v[kind]?.secretRef?.name) names.add(v[kind].secretRef.name);
    if (v.csi?.nodePublishSecretRef?.name) names.add(v.csi.nodePublishSecretRef.name);
  }
  return names;
}

export function configMapNames(spec: Loose): Set<string> {
  const names = new Set<string>();
  for (const c of containers(spec)) {
    for (const from of c.envFrom ?? []) if (from.configMapRef?.name) names.add(from.configMapRef.name);
    for (const env of c.env ?? []) if (env.valueFrom?.configMapKeyRef?.name) names.add(env.valueFrom.configMapKeyRef.name);
  }
  for (const v of spec.volumes ?? []) {
    if (v.configMap?.name) names.add(v.configMap.name);
    for (const source of v.projected?.sources ?? []) if (source.configMap?.name) names.add(source.configMap.name);
  }
  return names;
}
