// Discovery as a client reads it before anything else: /version, /api, /api/v1, /apis and each
// group's resource list (the legacy, unaggregated documents, which clients fall back to).
import { type ResourceType, TYPES } from './resource-types.ts';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const SUBRESOURCE_VERBS: Record<string, string[]> = {
  status: ['get', 'patch', 'update'],
  binding: ['create'],
  eviction: ['create'],
  token: ['create'],
  log: ['get'],
  exec: ['create', 'get'],
  attach: ['create', 'get'],
  portforward: ['create', 'get'],
};
const SUBRESOURCE_KIND: Record<string, string> = {
  binding: 'Binding',
  eviction: 'Eviction',
  token: 'TokenRequest',
  exec: 'PodExecOptions',
  attach: 'PodAttachOptions',
  portforward: 'PodPortForwardOptions',
};

function resourceList(groupVersion: string, types: ResourceType[]): unknown {
  const resources = types.flatMap((t) => [
    {
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames.length ? { shortNames: t.shortNames } : {}),
      ...(t.kind === 'Pod' ? { categories: ['all'] } : {}),
    },
    ...t.subresources.map((sub) => ({
      name: `${t.plural}/${sub}`,
      singularName: '',
      namespaced: t.namespaced,
      kind: SUBRESOURCE_KIND[sub] ?? t.kind,
      verbs: SUBRESOURCE_VERBS[sub] ?? ['get'],
    })),
  ]);
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion, resources };
}

const groups = () => [...new Set(TYPES.filter((t) => t.group !== '').map((t) => t.group))];

function group(name: string) {
  const version = { groupVersion: `${name}/v1`, version: 'v1' };
  return { kind: 'APIGroup', apiVersion: 'v1', name, versions: [version], preferredVersion: version };
}

/** The discovery document at `path`, or undefined when it is not one. */
export function discovery(path: string, serverAddress: string): unknown {
  if (path === '/version')
    return { major: '1', minor: '35', gitVersion: 'v1.35.0', platform: 'linux/amd64', goVersion: 'go1.25', compiler: 'gc' };
  if (path === '/api')
    return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
  if (path === '/api/v1')
    return resourceList(
      'v1',
      TYPES.filter((t) => t.group === ''),
    );
  if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups().map(group) };
  const m = /^\/apis\/([^/]+)(?:\/(v1))?$/.exec(path);
  if (m === null || !groups().includes(m[1]!)) return undefined;
  if (m[2] === undefined) return group(m[1]!);
  return resourceList(
    `${m[1]}/v1`,
    TYPES.filter((t) => t.group === m[1]),
  );
}
