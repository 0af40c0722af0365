// The annotations a CRI runtime puts in the OCI spec so that tools (and runtimes such as Kata)
// can tell pods from containers and which pod a container belongs to. The keys are containerd's,
// which other tools already read.

export const CriAnnotation = {
  containerType: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
  containerName: 'io.kubernetes.cri.container-name',
  imageName: 'io.kubernetes.cri.image-name',
} as const;

export interface CriAnnotationInput {
  type: 'sandbox' | 'container';
  sandboxId: string;
  sandboxName?: string | undefined;
  sandboxNamespace?: string | undefined;
  sandboxUid?: string | undefined;
  containerName?: string | undefined;
  imageName?: string | undefined;
}

/** The caller's annotations, then the CRI ones (which win). Unknown values are left out. */
export function criAnnotations(input: CriAnnotationInput, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { ...extra };
  const put = (k: string, v: string | undefined): void => {
    if (v !== undefined && v !== '') out[k] = v;
  };
  put(CriAnnotation.containerType, input.type);
  put(CriAnnotation.sandboxId, input.sandboxId);
  put(CriAnnotation.sandboxName, input.sandboxName);
  put(CriAnnotation.sandboxNamespace, input.sandboxNamespace);
  put(CriAnnotation.sandboxUid, input.sandboxUid);
  if (input.type === 'container') put(CriAnnotation.containerName, input.containerName);
  put(CriAnnotation.imageName, input.imageName);
  return out;
}
