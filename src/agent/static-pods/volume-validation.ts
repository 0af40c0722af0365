// The API server's checks of a pod's volumes and volumeMounts (ValidateVolumes,
// ValidateVolumeMounts), with its wording, for the sources berth node sets up; other sources are
// refused as berth's own limit.

import type { Container, DownwardApiVolumeFile, KeyToPath, PodSpec, ProjectedVolumeSource, Volume, VolumeMount } from '../k8s-types.ts';
import { isResourceField, RESOURCE_FIELDS } from '../resource-field.ts';
import { isDns1123Label, isDns1123Subdomain, LABEL_MESSAGE, SUBDOMAIN_MESSAGE } from './dns-names.ts';
import { FieldErrors } from './field-errors.ts';
import { SUPPORTED_VOLUME_SOURCES as SOURCES, UNSUPPORTED_VOLUME_SOURCES } from './volume-sources.ts';

const CONFIG_KEY = /^[-._a-zA-Z0-9]+$/;
const FILE_MODE_MESSAGE = 'must be a number between 0 and 0777 (octal), both inclusive';
const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice'];
const DOWNWARD_FIELDS = ['metadata.annotations', 'metadata.labels', 'metadata.name', 'metadata.namespace', 'metadata.uid'];
const SUBSCRIPT = /^metadata\.(labels|annotations)\['.+'\]$/;

/** A path inside a volume: relative, no `..` element (validateLocalDescendingPath). */
function checkDescendingPath(problems: FieldErrors, p: string, value: string): void {
  if (value.startsWith('/')) problems.invalid(p, value, 'must be a relative path');
  if (value.split('/').includes('..')) problems.invalid(p, value, "must not contain '..'");
}

function checkMode(problems: FieldErrors, p: string, mode: number | undefined): void {
  if (mode !== undefined && (!Number.isInteger(mode) || mode < 0 || mode > 0o777)) problems.invalid(p, mode, FILE_MODE_MESSAGE);
}

function checkItemPath(problems: FieldErrors, p: string, value: string | undefined): void {
  if (!value) {
    problems.required(p);
    return;
  }
  checkDescendingPath(problems, p, value);
  if (value.split('/')[0]!.startsWith('..')) problems.invalid(p, value, "must not start with '..'");
}

function checkKeyItems(problems: FieldErrors, p: string, items: KeyToPath[] | undefined): void {
  (items ?? []).forEach((item, i) => {
    const at = `${p}[${i}]`;
    if (!item.key) problems.required(`${at}.key`);
    else if (!CONFIG_KEY.test(item.key) || item.key === '.' || item.key === '..' || item.key.length > 253) {
      problems.invalid(`${at}.key`, item.key, "a valid config key must consist of alphanumeric characters, '-', '_' or '.'");
    }
    checkItemPath(problems, `${at}.path`, item.path);
    checkMode(problems, `${at}.mode`, item.mode);
  });
}

function checkObjectName(problems: FieldErrors, p: string, name: string | undefined): void {
  if (!name) problems.required(p);
  else if (!isDns1123Subdomain(name)) problems.invalid(p, name, SUBDOMAIN_MESSAGE);
}

function checkSource(problems: FieldErrors, p: string, volume: Volume): void {
  if (volume.emptyDir !== undefined) {
    const medium = volume.emptyDir.medium ?? '';
    if (medium !== '' && medium !== 'Memory') problems.notSupported(`${p}.emptyDir.medium`, medium, ['', 'Memory']);
  }
  if (volume.hostPath !== undefined) {
    const hp = volume.hostPath;
    if (!hp.path) problems.required(`${p}.hostPath.path`);
    else {
      if (!hp.path.startsWith('/')) problems.invalid(`${p}.hostPath.path`, hp.path, 'must be an absolute path');
      if (hp.path.split('/').includes('..')) problems.invalid(`${p}.hostPath.path`, hp.path, "must not contain '..'");
    }
    if (hp.type !== undefined && !HOST_PATH_TYPES.includes(hp.type)) problems.notSupported(`${p}.hostPath.type`, hp.type, HOST_PATH_TYPES);
  }
  if (volume.configMap !== undefined) {
    checkObjectName(problems, `${p}.configMap.name`, volume.configMap.name);
    checkMode(problems, `${p}.configMap.defaultMode`, volume.configMap.defaultMode);
    checkKeyItems(problems, `${p}.configMap.items`, volume.configMap.items);
  }
  if (volume.secret !== undefined) {
    checkObjectName(problems, `${p}.secret.secretName`, volume.secret.secretName);
    checkMode(problems, `${p}.secret.defaultMode`, volume.secret.defaultMode);
    checkKeyItems(problems, `${p}.secret.items`, volume.secret.items);
  }
  if (volume.downwardAPI !== undefined) {
    checkMode(problems, `${p}.downwardAPI.defaultMode`, volume.downwardAPI.defaultMode);
    checkDownwardItems(problems, `${p}.downwardAPI.items`, volume.downwardAPI.items);
  }
  if (volume.projected !== undefined) checkProjected(problems, `${p}.projected`, volume.projected);
}

function checkDownwardItems(problems: FieldErrors, p: string, items: DownwardApiVolumeFile[] | undefined): void {
  (items ?? []).forEach((item, i) => {
    const at = `${p}[${i}]`;
    checkItemPath(problems, `${at}.path`, item.path);
    checkMode(problems, `${at}.mode`, item.mode);
    if (item.fieldRef !== undefined && item.resourceFieldRef !== undefined) {
      problems.invalid(at, 'resource', 'fieldRef and resourceFieldRef can not be specified simultaneously');
    } else if (item.fieldRef !== undefined) {
      const fieldPath = item.fieldRef.fieldPath;
      if (!fieldPath) problems.required(`${at}.fieldRef.fieldPath`);
      else if (!DOWNWARD_FIELDS.includes(fieldPath) && !SUBSCRIPT.test(fieldPath)) {
        problems.notSupported(`${at}.fieldRef.fieldPath`, fieldPath, DOWNWARD_FIELDS);
      }
    } else if (item.resourceFieldRef !== undefined) {
      const ref = item.resourceFieldRef;
      if (!ref.containerName) problems.required(`${at}.resourceFieldRef.containerName`);
      if (!ref.resource) problems.required(`${at}.resourceFieldRef.resource`);
      else if (!isResourceField(ref.resource)) problems.notSupported(`${at}.resourceFieldRef.resource`, ref.resource, RESOURCE_FIELDS);
    } else {
      problems.required(at, 'one of `fieldRef` or `resourceFieldRef` must be specified');
    }
  });
}

const PROJECTION_SOURCES = ['secret', 'configMap', 'downwardAPI', 'serviceAccountToken'] as const;

/** The API server's checks of a projected volume (validateProjectionSources): one source each, paths unique. */
function checkProjected(problems: FieldErrors, p: string, projected: ProjectedVolumeSource): void {
  checkMode(problems, `${p}.defaultMode`, projected.defaultMode);
  const paths = new Set<string>();
  const claim = (path: string | undefined, value: unknown) => {
    if (!path) return;
    if (paths.has(path)) problems.invalid(p, value, 'conflicting duplicate paths');
    paths.add(path);
  };
  (projected.sources ?? []).forEach((source, i) => {
    const at = `${p}.sources[${i}]`;
    const given = Object.keys(source).filter((k) => source[k] !== undefined && source[k] !== null);
    const unsupported = given.filter((k) => !(PROJECTION_SOURCES as readonly string[]).includes(k));
    for (const k of unsupported) problems.forbidden(`${at}.${k}`, `${k} projections are not supported by berth node`);
    if (given.length === 0) problems.required(at, `must specify one of ${PROJECTION_SOURCES.map((s) => `\`${s}\``).join(', ')}`);
    else if (given.length > 1) problems.forbidden(at, 'may not specify more than 1 volume type per source');
    for (const kind of ['secret', 'configMap'] as const) {
      const ref = source[kind];
      if (ref === undefined) continue;
      if (!ref.name) problems.required(`${at}.${kind}.name`);
      checkKeyItems(problems, `${at}.${kind}.items`, ref.items);
      for (const item of ref.items ?? []) claim(item.path, ref.name);
    }
    if (source.downwardAPI !== undefined) {
      checkDownwardItems(problems, `${at}.downwardAPI.items`, source.downwardAPI.items);
      for (const item of source.downwardAPI.items ?? []) claim(item.path, item.path);
    }
    const token = source.serviceAccountToken;
    if (token !== undefined) {
      const seconds = token.expirationSeconds ?? 3600;
      if (!Number.isInteger(seconds)) problems.invalid(`${at}.serviceAccountToken.expirationSeconds`, seconds, 'must be an integer');
      else if (seconds < 600) {
        problems.invalid(`${at}.serviceAccountToken.expirationSeconds`, seconds, 'may not specify a duration less than 10 minutes');
      } else if (seconds > 2 ** 32) {
        problems.invalid(`${at}.serviceAccountToken.expirationSeconds`, seconds, 'may not specify a duration larger than 2^32 seconds');
      }
      if (!token.path) problems.required(`${at}.serviceAccountToken.path`);
      else {
        checkItemPath(problems, `${at}.serviceAccountToken.path`, token.path);
        claim(token.path, token.path);
      }
    }
  });
}

function checkVolume(problems: FieldErrors, p: string, volume: Volume): void {
  if (!volume.name) problems.required(`${p}.name`);
  else if (!isDns1123Label(volume.name)) {
    problems.invalid(`${p}.name`, volume.name, LABEL_MESSAGE);
  }
  const given = [...SOURCES, ...UNSUPPORTED_VOLUME_SOURCES].filter((s) => volume[s] !== undefined && volume[s] !== null);
  if (given.length === 0) problems.required(p, 'must specify a volume type');
  else if (given.length > 1) problems.forbidden(`${p}.${given[1]}`, 'may not specify more than 1 volume type');
  else if (!(SOURCES as readonly string[]).includes(given[0]!)) {
    problems.forbidden(`${p}.${given[0]}`, `${given[0]} volumes are not supported by berth node (supported: ${SOURCES.join(', ')})`);
  } else checkSource(problems, p, volume);
}

function checkMounts(problems: FieldErrors, p: string, container: Container, volumes: ReadonlySet<string>): void {
  const paths = new Set<string>();
  (container.volumeMounts ?? []).forEach((mount: VolumeMount, i) => {
    const at = `${p}[${i}]`;
    if (!mount.name) problems.required(`${at}.name`);
    else if (!volumes.has(mount.name)) problems.notFound(`${at}.name`, mount.name);
    if (!mount.mountPath) problems.required(`${at}.mountPath`);
    else {
      if (!mount.mountPath.startsWith('/')) problems.invalid(`${at}.mountPath`, mount.mountPath, 'must be an absolute path');
      const clean = mount.mountPath.replace(/\/+$/, '') || '/';
      if (paths.has(clean)) problems.invalid(`${at}.mountPath`, mount.mountPath, 'must be unique');
      paths.add(clean);
    }
    if (mount.subPath) checkDescendingPath(problems, `${at}.subPath`, mount.subPath);
    if (mount.subPathExpr) {
      if (mount.subPath) problems.invalid(`${at}.subPathExpr`, mount.subPathExpr, 'subPathExpr and subPath are mutually exclusive');
      checkDescendingPath(problems, `${at}.subPathExpr`, mount.subPathExpr);
    }
    const propagation = mount.mountPropagation;
    if (propagation !== undefined) {
      if (!['None', 'HostToContainer', 'Bidirectional'].includes(propagation)) {
        problems.notSupported(`${at}.mountPropagation`, propagation, ['Bidirectional', 'HostToContainer', 'None']);
      } else if (propagation === 'Bidirectional' && container.securityContext?.privileged !== true) {
        problems.forbidden(`${at}.mountPropagation`, 'Bidirectional mount propagation is available only to privileged containers');
      }
    }
    if (mount.recursiveReadOnly === 'Enabled') {
      problems.forbidden(`${at}.recursiveReadOnly`, 'recursive read-only mounts are not supported by berth node');
    }
  });
}

/** Every problem with the pod's volumes and its containers' volumeMounts, one line each. */
export function validateVolumes(spec: PodSpec): string[] {
  const problems = new FieldErrors();
  const names = new Set<string>();
  (spec.volumes ?? []).forEach((volume, i) => {
    const p = `spec.volumes[${i}]`;
    checkVolume(problems, p, volume);
    if (volume.name && names.has(volume.name)) problems.duplicate(`${p}.name`, volume.name);
    if (volume.name) names.add(volume.name);
  });
  for (const [group, containers] of [
    ['spec.initContainers', spec.initContainers ?? []],
    ['spec.containers', spec.containers ?? []],
  ] as const) {
    containers.forEach((c, i) => {
      checkMounts(problems, `${group}[${i}].volumeMounts`, c, names);
    });
  }
  return problems.list;
}
