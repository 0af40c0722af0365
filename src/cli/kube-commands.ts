// kubectl-style commands through a node's HTTP API (the kubelet's read-only port): `berth get pods`,
// `berth describe pod NAME`, and the pod forms of logs, exec and port-forward (`berth logs pod/NAME`,
// `berth exec pod/NAME -- COMMAND`, `berth port-forward pod/NAME PORT`), which the crictl-style
// commands of those names run when their first argument names a pod. Streams go over a WebSocket
// (v5.channel.k8s.io) with SPDY/3.1 as the fallback, and port-forward over SPDY, as with kubectl.
import type { Pod } from '../agent/k8s-types.ts';
import { invalidArgument, notFound } from '../errors/errors.ts';
import { defineCommand, type FlagSpec } from './command.ts';
import { fetchPod, fetchPodEvents, fetchPods, nodeApiGet, nodeApiUrl } from './kube/node-api-client.ts';
import { nodeApiEndpoint } from './kube/node-api-endpoint.ts';
import { describePod } from './kube/pod-describer.ts';
import { podTable } from './kube/pod-printer.ts';
import { formatStructured } from './output/documents.ts';
import { parsePortSpec, runPortForward, runSession } from './stream-session.ts';

const NODE_API: FlagSpec = {
  type: 'string',
  value: 'URL',
  help: 'the node API: unix://SOCKET, https://HOST:PORT or http://HOST:PORT (read-only) (default $BERTH_NODE_API or unix:///var/lib/berth/node/node.sock)',
};
const NAMESPACE: FlagSpec = { type: 'string', short: 'n', value: 'NAMESPACE', help: 'the pod\'s namespace (default "default")' };

function podsOf(namespace: string | undefined, pods: Pod[]): Pod[] {
  return pods
    .filter((p) => namespace === undefined || (p.metadata.namespace ?? 'default') === namespace)
    .toSorted((a, b) => {
      const ns = (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '');
      return ns !== 0 ? ns : (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');
    });
}

/** `pods`, `pod`, `po`, optionally with `/NAME`: the resource kinds these commands know. */
function podResource(arg: string | undefined, command: string): { name?: string } {
  if (arg === undefined) throw invalidArgument('bad-flag', `berth ${command}: say which resource type: pods`);
  const [kind, name] = arg.split('/', 2) as [string, string | undefined];
  if (!['pods', 'pod', 'po'].includes(kind.toLowerCase())) {
    throw invalidArgument('bad-flag', `the node API has no resource type "${kind}" (it serves pods)`);
  }
  return name === undefined ? {} : { name };
}

const getCommand = defineCommand({
  name: 'get',
  summary: 'List the pods of a node (kubectl get pods), through its node API',
  args: 'pods [NAME...]',
  flags: {
    namespace: NAMESPACE,
    'all-namespaces': { type: 'boolean', short: 'A', help: 'the pods of every namespace' },
    output: { type: 'string', short: 'o', value: 'FORMAT', help: 'wide, json, yaml or name' },
    'node-api': NODE_API,
  },
  async run({ flags: values, args: positionals }) {
    const [resource, ...rest] = positionals;
    const named = podResource(resource, 'get').name;
    const names = named !== undefined ? [named, ...rest] : rest;
    const output = values.output ?? '';
    if (!['', 'wide', 'json', 'yaml', 'name'].includes(output)) {
      throw invalidArgument(
        'bad-flag',
        `unable to match a printer suitable for the output format "${output}", allowed formats are: json,name,wide,yaml`,
      );
    }
    const namespace = values['all-namespaces'] ? undefined : (values.namespace ?? 'default');
    const all = podsOf(namespace, await fetchPods(nodeApiUrl(values['node-api'])));
    let pods = all;
    if (names.length > 0) {
      pods = [];
      for (const name of names) {
        const pod = all.find((p) => p.metadata.name === name);
        if (pod === undefined) throw notFound('pod-not-found', `pods "${name}" not found`);
        pods.push(pod);
      }
    }
    if (output === 'json' || output === 'yaml') {
      const document =
        names.length === 1
          ? { apiVersion: 'v1', kind: 'Pod', ...pods[0] }
          : {
              apiVersion: 'v1',
              kind: 'List',
              metadata: { resourceVersion: '' },
              items: pods.map((p) => ({ apiVersion: 'v1', kind: 'Pod', ...p })),
            };
      process.stdout.write(formatStructured(document, output));
      return 0;
    }
    if (pods.length === 0) {
      process.stderr.write(namespace === undefined ? 'No resources found\n' : `No resources found in ${namespace} namespace.\n`);
      return 0;
    }
    if (output === 'name') {
      process.stdout.write(pods.map((p) => `pod/${p.metadata.name}\n`).join(''));
      return 0;
    }
    process.stdout.write(podTable(pods, { now: Date.now(), wide: output === 'wide', allNamespaces: namespace === undefined }));
    return 0;
  },
});

const describeCommand = defineCommand({
  name: 'describe',
  summary: 'Show the details of a pod of a node (kubectl describe pod), through its node API',
  args: 'pod [NAME | NAME-PREFIX]',
  flags: { namespace: NAMESPACE, 'node-api': NODE_API },
  async run({ flags: values, args: positionals }) {
    const [resource, ...rest] = positionals;
    const named = podResource(resource, 'describe').name;
    const names = named !== undefined ? [named, ...rest] : rest;
    const namespace = values.namespace ?? 'default';
    const base = nodeApiUrl(values['node-api']);
    const all = podsOf(namespace, await fetchPods(base));
    let pods = all;
    if (names.length > 0) {
      pods = [];
      for (const name of names) {
        // As kubectl: the pod of that name, else every pod whose name starts with it.
        const exact = all.filter((p) => p.metadata.name === name);
        const found = exact.length > 0 ? exact : all.filter((p) => p.metadata.name?.startsWith(name));
        if (found.length === 0) throw notFound('pod-not-found', `pods "${name}" not found`);
        pods.push(...found);
      }
    }
    if (pods.length === 0) {
      process.stderr.write(`No resources found in ${namespace} namespace.\n`);
      return 0;
    }
    const events = await Promise.all(pods.map((p) => fetchPodEvents(base, p)));
    const now = Date.now();
    process.stdout.write(pods.map((p, i) => describePod(p, now, events[i])).join('\n\n'));
    return 0;
  },
});

/** The container `logs` means: -c, else the default-container annotation, else the only (or first) container. */
export function logsContainer(pod: Pod, requested: string | undefined): { name: string; notice?: string } {
  const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  if (requested !== undefined) {
    if (!all.some((c) => c.name === requested)) {
      throw invalidArgument('container-not-found', `container ${requested} is not valid for pod ${pod.metadata.name}`);
    }
    return { name: requested };
  }
  const annotated = pod.metadata.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated !== undefined && pod.spec.containers.some((c) => c.name === annotated)) return { name: annotated };
  const first = pod.spec.containers[0]!.name;
  if (all.length === 1) return { name: first };
  const names = [...pod.spec.containers.map((c) => c.name), ...(pod.spec.initContainers ?? []).map((c) => `${c.name} (init)`)];
  return { name: first, notice: `Defaulted container "${first}" out of: ${names.join(', ')}\n` };
}

/** `berth logs pod/NAME`: logs through the node API. */
export const podLogsCommand = defineCommand({
  name: 'logs',
  summary: "Print a pod's container logs (kubectl logs pod/NAME), through the node API",
  args: 'pod/NAME',
  flags: {
    container: { type: 'string', short: 'c', value: 'CONTAINER', help: 'the container (default: the only or the default one)' },
    follow: { type: 'boolean', short: 'f', help: 'follow the log' },
    previous: { type: 'boolean', short: 'p', help: "the previous instance's log" },
    tail: { type: 'string', value: 'N', help: 'only the last N lines' },
    timestamps: { type: 'boolean', help: 'each line with its timestamp' },
    'since-seconds': { type: 'string', value: 'N', help: 'only lines of the last N seconds' },
    namespace: NAMESPACE,
    'node-api': NODE_API,
  },
  async run({ flags: values, args: positionals }) {
    const [resource] = positionals;
    if (positionals.length !== 1 || !/^(pods?|po)\//.test(resource!)) throw invalidArgument('bad-flag', 'logs: expected one pod/NAME');
    const name = resource!.slice(resource!.indexOf('/') + 1);
    const namespace = values.namespace ?? 'default';
    const base = nodeApiUrl(values['node-api']);
    const pod = await fetchPod(base, namespace, name);
    const container = logsContainer(pod, values.container);
    if (container.notice !== undefined) process.stderr.write(container.notice);
    const query = new URLSearchParams();
    if (values.follow) query.set('follow', 'true');
    if (values.previous) query.set('previous', 'true');
    if (values.timestamps) query.set('timestamps', 'true');
    for (const [flag, param] of [
      ['tail', 'tailLines'],
      ['since-seconds', 'sinceSeconds'],
    ] as const) {
      const value = values[flag];
      if (value === undefined || (flag === 'tail' && value === '-1')) continue;
      if (!/^\d+$/.test(value)) throw invalidArgument('bad-flag', `--${flag}: not a non-negative integer: ${value}`);
      query.set(param, value);
    }
    const abort = new AbortController();
    const onSigint = () => abort.abort();
    process.once('SIGINT', onSigint);
    try {
      const path = `/containerLogs/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}/${encodeURIComponent(container.name)}`;
      const res = await nodeApiGet(base, `${path}${query.size > 0 ? `?${query}` : ''}`, abort.signal);
      if (res.body !== null) {
        for await (const chunk of res.body) {
          if (!process.stdout.write(chunk)) await new Promise((resolve) => process.stdout.once('drain', resolve));
        }
      }
    } catch (e) {
      if (!abort.signal.aborted) throw e;
    } finally {
      process.off('SIGINT', onSigint);
    }
    return 0;
  },
});

async function findPod(base: string, resource: string, namespace: string): Promise<Pod> {
  const name = resource.slice(resource.indexOf('/') + 1);
  if (name === '') throw invalidArgument('bad-flag', `expected pod/NAME, got "${resource}"`);
  return fetchPod(base, namespace, name);
}

function path(...parts: string[]): string {
  return parts.map(encodeURIComponent).join('/');
}

export const podExecCommand = defineCommand({
  name: 'exec',
  summary: 'Run a command in a container of a pod (kubectl exec), through the node API',
  args: 'pod/NAME -- COMMAND [ARG...]',
  flags: {
    container: { type: 'string', short: 'c', value: 'CONTAINER', help: 'the container (default: the only or the default one)' },
    stdin: { type: 'boolean', short: 'i', help: 'pass stdin to the command' },
    tty: { type: 'boolean', short: 't', help: 'on a terminal' },
    namespace: NAMESPACE,
    'node-api': NODE_API,
  },
  async run({ flags: values, args: positionals }) {
    const [resource, ...cmd] = positionals;
    if (resource === undefined || cmd.length === 0) throw invalidArgument('bad-flag', 'exec: expected pod/NAME -- COMMAND [ARG...]');
    const namespace = values.namespace ?? 'default';
    const base = nodeApiUrl(values['node-api']);
    const pod = await findPod(base, resource, namespace);
    const container = logsContainer(pod, values.container);
    if (container.notice !== undefined) process.stderr.write(container.notice);
    const stdin = values.stdin === true;
    let tty = values.tty === true;
    if (tty && !(stdin && process.stdin.isTTY)) {
      process.stderr.write('Unable to use a TTY - input is not a terminal or the right kind of file\n');
      tty = false;
    }
    const query = new URLSearchParams(cmd.map((c): [string, string] => ['command', c]));
    if (stdin) query.set('input', '1');
    query.set('output', '1');
    if (!tty) query.set('error', '1');
    if (tty) query.set('tty', '1');
    const endpoint = nodeApiEndpoint(base);
    const url = endpoint.url(`/exec/${path(namespace, pod.metadata.name!, container.name)}?${query}`);
    return runSession(async () => url, { stdin, tty }, 'exec', endpoint.agent);
  },
});

export const podPortForwardCommand = defineCommand({
  name: 'port-forward',
  summary: 'Forward local ports to a pod (kubectl port-forward), through the node API',
  args: 'pod/NAME [LOCAL_PORT:]REMOTE_PORT...',
  flags: {
    address: { type: 'string', multiple: true, value: 'ADDR', help: 'local addresses to listen on (default localhost)' },
    namespace: NAMESPACE,
    'node-api': NODE_API,
  },
  async run({ flags: values, args: positionals }) {
    const [resource, ...specs] = positionals;
    if (resource === undefined || specs.length === 0) {
      throw invalidArgument('bad-flag', 'port-forward: expected pod/NAME and at least one [LOCAL_PORT:]REMOTE_PORT');
    }
    const ports = specs.map(parsePortSpec);
    const namespace = values.namespace ?? 'default';
    const base = nodeApiUrl(values['node-api']);
    const pod = await findPod(base, resource, namespace);
    if (pod.status?.phase !== 'Running') {
      throw invalidArgument(
        'pod-not-running',
        `unable to forward port because pod is not running. Current status=${pod.status?.phase ?? 'Unknown'}`,
      );
    }
    const addresses = values.address?.flatMap((a) => a.split(',')).flatMap((a) => (a === 'localhost' ? ['127.0.0.1', '::1'] : [a]));
    const endpoint = nodeApiEndpoint(base);
    return runPortForward(endpoint.url(`/portForward/${path(namespace, pod.metadata.name!)}`), ports, addresses, endpoint.agent);
  },
});

export const kubeCommands = [getCommand, describeCommand];
