// The NodeRestriction admission plugin (plugin/pkg/admission/noderestriction): a node writes only
// its own Node, Lease and the pods bound to it; the only pods it creates are mirror pods of its
// static pods, bound to it, owned by it at most, referring to no other API object.
import { forbidden, notFound } from './api-error.ts';
import type { ApiObject, Loose } from './api-object.ts';
import type { Identity, Verb } from './identity.ts';
import { configMapNames, secretNames } from './pod-references.ts';
import { MIRROR_ANNOTATION } from './service-account-admission.ts';

export interface AdmissionRequest {
  verb: Verb;
  plural: string;
  subresource?: string;
  namespace?: string;
  name: string;
  /** The object written (create, update, patch), or the TokenRequest. */
  object?: ApiObject;
  /** The object as stored before the write. */
  old?: ApiObject;
}

export interface AdmissionLookups {
  pod(namespace: string, name: string): ApiObject | undefined;
  node(name: string): ApiObject | undefined;
}

/** Labels a node may not set on itself (the node-restriction.kubernetes.io/ prefix). */
const RESTRICTED_LABEL_PREFIX = 'node-restriction.kubernetes.io/';

function admitMirrorPodCreate(node: string, pod: ApiObject, lookups: AdmissionLookups): void {
  const name = pod.metadata.name ?? '';
  const spec = (pod.spec ?? {}) as Loose;
  const refuse = (why: string) => forbidden('pods', name, why);
  if (pod.metadata.annotations?.[MIRROR_ANNOTATION] === undefined)
    throw refuse(`pod does not have "${MIRROR_ANNOTATION}" annotation, node "${node}" can only create mirror pods`);
  if (spec.nodeName !== node) throw refuse(`node "${node}" can only create pods with spec.nodeName set to itself`);
  const owners = pod.metadata.ownerReferences ?? [];
  if (owners.length > 1) throw refuse(`node "${node}" can only create pods with a single owner reference set to itself`);
  const owner = owners[0];
  if (owner !== undefined) {
    if (owner.apiVersion !== 'v1' || owner.kind !== 'Node' || owner.name !== node)
      throw refuse(`node "${node}" can only create pods with an owner reference set to itself`);
    if (owner.controller !== true) throw refuse(`node "${node}" can only create pods with a controller owner reference set to itself`);
    if (owner.blockOwnerDeletion === true) throw refuse(`node "${node}" must not set blockOwnerDeletion on an owner reference`);
    if (lookups.node(node)?.metadata.uid !== owner.uid) throw refuse(`node ${node} UID mismatch`);
  }
  if (spec.serviceAccountName) throw refuse(`node "${node}" can not create pods that reference a service account`);
  if (secretNames(spec).size > 0) throw refuse(`node "${node}" can not create pods that reference secrets`);
  if (configMapNames(spec).size > 0) throw refuse(`node "${node}" can not create pods that reference configmaps`);
  for (const v of spec.volumes ?? []) {
    if (v.persistentVolumeClaim) throw refuse(`node "${node}" can not create pods that reference persistentvolumeclaims`);
    if (v.ephemeral) throw refuse(`node "${node}" can not create pods that use generic ephemeral volumes`);
    for (const source of v.projected?.sources ?? [])
      if (source.clusterTrustBundle) throw refuse(`node "${node}" can not create pods that use clustertrustbundles`);
  }
}

function admitNodeWrite(node: string, r: AdmissionRequest): void {
  if (r.name !== node) throw forbidden('nodes', r.name, `node "${node}" is not allowed to modify node "${r.name}"`);
  if (r.subresource === 'status' || r.object === undefined) return;
  const labels = Object.keys(r.object.metadata.labels ?? {}).filter((l) => l.startsWith(RESTRICTED_LABEL_PREFIX));
  const oldLabels = r.old?.metadata.labels ?? {};
  const changed = labels.filter((l) => oldLabels[l] !== r.object!.metadata.labels![l]);
  if (changed.length > 0) throw forbidden('nodes', r.name, `is not allowed to modify labels: ${changed.join(', ')}`);
  if (r.old !== undefined && JSON.stringify((r.old.spec as Loose)?.taints ?? []) !== JSON.stringify((r.object.spec as Loose)?.taints ?? []))
    throw forbidden('nodes', r.name, `node "${node}" is not allowed to modify taints`);
}

function admitTokenRequest(node: string, r: AdmissionRequest, lookups: AdmissionLookups): void {
  const ref = ((r.object?.spec ?? {}) as Loose).boundObjectRef as Loose | undefined;
  if (ref === undefined) throw forbidden('serviceaccounts', r.name, `node requested token not bound to a pod`);
  if (ref.kind !== 'Pod') throw forbidden('serviceaccounts', r.name, `node requested token bound to a ${ref.kind}, not a pod`);
  if (!ref.uid) throw forbidden('serviceaccounts', r.name, 'node requested token with a pod binding without a uid');
  const pod = lookups.pod(r.namespace ?? '', ref.name ?? '');
  if (pod === undefined) throw notFound('pods', ref.name ?? '');
  if (pod.metadata.uid !== ref.uid)
    throw forbidden(
      'serviceaccounts',
      r.name,
      `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
    );
  if ((pod.spec as Loose).nodeName !== node)
    throw forbidden('serviceaccounts', r.name, `node requested token bound to a pod scheduled on a different node`);
}

/** Throws 403 when a node's write is one NodeRestriction refuses. */
export function admitNodeRequest(identity: Identity, r: AdmissionRequest, lookups: AdmissionLookups): void {
  const node = identity.node;
  if (node === undefined) return;
  if (r.verb === 'get' || r.verb === 'list' || r.verb === 'watch') return;
  switch (r.plural) {
    case 'pods': {
      if (r.verb === 'create' && r.subresource === undefined) {
        admitMirrorPodCreate(node, r.object!, lookups);
        return;
      }
      if (r.old === undefined) throw notFound('pods', r.name);
      const bound = ((r.old.spec ?? {}) as Loose).nodeName;
      if (bound !== node) {
        const what = r.subresource === 'status' ? 'update pod status' : r.subresource === 'eviction' ? 'evict pods' : 'delete pods';
        throw forbidden('pods', r.name, `node "${node}" can only ${what} with spec.nodeName set to itself`);
      }
      return;
    }
    case 'nodes':
      admitNodeWrite(node, r);
      return;
    case 'serviceaccounts':
      if (r.subresource === 'token') admitTokenRequest(node, r, lookups);
      return;
    case 'leases':
      if (r.namespace !== 'kube-node-lease') throw forbidden('leases', r.name, 'can only access leases in the kube-node-lease namespace');
      if (r.name !== node) throw forbidden('leases', r.name, 'can only access node lease with the same name as the requesting node');
      return;
  }
}
