// What a projected volume holds, as the kubelet's projected plugin computes it: the files of its
// configMap, secret and downwardAPI sources (with the volume's defaultMode) and service account
// tokens, in one directory. Every failing source is reported, joined; two sources may not write
// the same path (the API server refuses such a pod).
import type { Pod, ProjectedVolumeSource, ResourceFieldSelector } from '../../../agent/k8s-types.ts';
import type { ConfigMapSource, SecretSource, ServiceAccountTokenSource } from '../../../agent/provider.ts';
import { invalidArgument, notFound, unavailable, unimplemented } from '../../../errors/errors.ts';
import type { FileProjection } from './atomic-writer.ts';
import { configMapFiles, DEFAULT_FILE_MODE, downwardApiFiles, secretFiles } from './volume-payloads.ts';

/** The API's default lifetime of a projected token. */
export const DEFAULT_TOKEN_EXPIRATION_SECONDS = 3600;

export interface ProjectionSources {
  configMaps?: ConfigMapSource;
  secrets?: SecretSource;
  /** Absent in standalone mode: a serviceAccountToken source then fails. */
  tokens?: ServiceAccountTokenSource;
  resourceValue: (selector: ResourceFieldSelector) => string;
}

export const NO_TOKEN_SOURCE = 'service account tokens need an API server: berth node runs in standalone mode (start it with --kubeconfig)';

/** The files of the projected volume; throws with every source's failure. */
export async function projectedFiles(
  pod: Pod,
  source: ProjectedVolumeSource,
  sources: ProjectionSources,
  signal: AbortSignal,
): Promise<Map<string, FileProjection>> {
  const namespace = pod.metadata.namespace ?? 'default';
  const defaultMode = source.defaultMode ?? DEFAULT_FILE_MODE;
  const files = new Map<string, FileProjection>();
  const errors: string[] = [];
  for (const projection of source.sources ?? []) {
    let part: Map<string, FileProjection>;
    try {
      if (projection.configMap !== undefined) {
        const { name = '', items, optional } = projection.configMap;
        const found = await sources.configMaps?.getConfigMap(namespace, name, signal);
        if (found === undefined && optional !== true) throw notFound('configmap-not-found', `configmap "${name}" not found`);
        part = configMapFiles({ items, defaultMode, optional }, found);
      } else if (projection.secret !== undefined) {
        const { name = '', items, optional } = projection.secret;
        const found = await sources.secrets?.getSecret(namespace, name, signal);
        if (found === undefined && optional !== true) throw notFound('secret-not-found', `secret "${name}" not found`);
        part = secretFiles({ items, defaultMode, optional }, found);
      } else if (projection.downwardAPI !== undefined) {
        part = downwardApiFiles({ items: projection.downwardAPI.items, defaultMode }, pod, sources.resourceValue);
      } else if (projection.serviceAccountToken !== undefined) {
        const { audience, expirationSeconds, path } = projection.serviceAccountToken;
        if (sources.tokens === undefined) throw unavailable('volume-token-unavailable', `failed to fetch token: ${NO_TOKEN_SOURCE}`);
        const token = await sources.tokens.getToken(
          pod,
          { ...(audience ? { audience } : {}), expirationSeconds: expirationSeconds ?? DEFAULT_TOKEN_EXPIRATION_SECONDS },
          signal,
        );
        // With an fsGroup the token is the owner's only until the group gets read (0640), as the kubelet does.
        const mode = pod.spec.securityContext?.fsGroup !== undefined ? 0o600 : defaultMode;
        part = new Map([[path, { data: Buffer.from(token, 'utf8'), mode }]]);
      } else {
        const given = Object.keys(projection).join(', ') || '(none)';
        throw unimplemented('volume-source-unsupported', `projected volume source ${given} is not supported by berth node`);
      }
    } catch (e) {
      if (signal.aborted) throw e;
      errors.push((e as Error).message);
      continue;
    }
    for (const [p, file] of part) {
      if (files.has(p)) errors.push(`conflicting duplicate paths: ${p}`);
      else files.set(p, file);
    }
  }
  if (errors.length > 0) throw invalidArgument('volume-payload-invalid', errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`);
  return files;
}
