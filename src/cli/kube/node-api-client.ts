// The node's HTTP API as the kubectl-style commands read it (node-api-endpoint.ts):
// --node-api URL, else $BERTH_NODE_API, else the node's socket unix:///var/lib/berth/node/node.sock.
import type { Pod, PodList } from '../../agent/k8s-types.ts';
import { invalidArgument, notFound, unavailable } from '../../errors/errors.ts';
import { DEFAULT_NODE_API, nodeApiFetch } from './node-api-endpoint.ts';
import type { DescribedEvent } from './pod-describer.ts';

export { DEFAULT_NODE_API };

/** --node-api, then $BERTH_NODE_API, then the node's root-only socket. */
export function nodeApiUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const value = flag ?? env.BERTH_NODE_API ?? DEFAULT_NODE_API;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalidArgument('bad-flag', `--node-api: not a URL: ${value}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:' && url.protocol !== 'unix:')
    throw invalidArgument('bad-flag', `--node-api: must be unix://, https:// or http://, got ${value}`);
  return value.replace(/\/+$/, '');
}

export async function nodeApiGet(base: string, path: string, signal?: AbortSignal): Promise<Response> {
  let res: Response;
  try {
    res = await nodeApiFetch(base, path, signal);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw unavailable(
      'node-api-unreachable',
      `cannot reach the node API at ${base}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  if (!res.ok) {
    const body = (await res.text()).trim();
    const message = `${res.status} ${res.statusText}${body ? `: ${body}` : ''}`;
    if (res.status === 404) throw notFound('node-api-not-found', message);
    throw unavailable('node-api-error', `the node API answered ${message}`);
  }
  return res;
}

export async function fetchPods(base: string): Promise<Pod[]> {
  const list = (await (await nodeApiGet(base, '/pods')).json()) as PodList;
  return list.items ?? [];
}

/** The node's pod of that namespace and name; `pods "NAME" not found` when it has none. */
export async function fetchPod(base: string, namespace: string, name: string): Promise<Pod> {
  const pod = (await fetchPods(base)).find((p) => (p.metadata.namespace ?? 'default') === namespace && p.metadata.name === name);
  if (pod === undefined) throw notFound('pod-not-found', `pods "${name}" not found`);
  return pod;
}

/** The pod's events from the node's /events, or undefined when the node API does not keep events. */
export async function fetchPodEvents(base: string, pod: Pod): Promise<DescribedEvent[] | undefined> {
  const query = new URLSearchParams({ namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name ?? '' });
  if (pod.metadata.uid) query.set('uid', pod.metadata.uid);
  const res = await nodeApiFetch(base, `/events?${query}`).catch(() => undefined);
  if (res === undefined || !res.ok) return undefined;
  return ((await res.json()) as { items?: DescribedEvent[] }).items ?? [];
}
