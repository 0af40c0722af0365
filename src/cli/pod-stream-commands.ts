// kubectl-style exec and port-forward through a node's API (the kubelet's /exec and /portForward):
//   berth exec pod/NAME [-c CONTAINER] [-i] [-t] [-n NS] -- COMMAND [ARG...]
//   berth port-forward pod/NAME [LOCAL:]REMOTE... [--address ADDR] [-n NS]
// `berth exec CONTAINER-ID` and `berth port-forward POD-ID` (crictl-style, against the runtime)
// hand over here when their first argument starts with `pod/`. The streams go over a WebSocket
// (v5.channel.k8s.io) with SPDY/3.1 as the fallback, and port-forward over SPDY, as with kubectl.
import { parseArgs } from 'node:util';
import type { Pod } from '../agent/k8s-types.ts';
import { invalidArgument } from '../errors/errors.ts';
import type { Command } from './command.ts';
import { fetchPod, logsContainer, nodeApiUrl } from './kube-commands.ts';
import { nodeApiEndpoint } from './node-api-client.ts';
import { parsePortSpec, runPortForward, runSession } from './stream-commands.ts';

function parse<O extends NonNullable<Parameters<typeof parseArgs>[0]>['options']>(argv: string[], options: O) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, 'node-api': { type: 'string' }, namespace: { type: 'string', short: 'n' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw invalidArgument('bad-flag', (e as Error).message);
  }
}

const VALUE_FLAGS = new Set([
  '-c',
  '--container',
  '-n',
  '--namespace',
  '--node-api',
  '--address',
  '-r',
  '--runtime-endpoint',
  '--image-endpoint',
  '--timeout',
]);

/** Whether a command line names a pod (`pod/NAME`) rather than a runtime ID: its first positional decides. */
export function namesPod(argv: string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return false;
    if (VALUE_FLAGS.has(arg)) i++;
    else if (!arg.startsWith('-')) return /^(pods?|po)\//.test(arg);
  }
  return false;
}

async function findPod(base: string, resource: string, namespace: string): Promise<Pod> {
  const name = resource.slice(resource.indexOf('/') + 1);
  if (name === '') throw invalidArgument('bad-flag', `expected pod/NAME, got "${resource}"`);
  return fetchPod(base, namespace, name);
}

function path(...parts: string[]): string {
  return `/${parts.map(encodeURIComponent).join('/')}`;
}

export const podExecCommand: Command = {
  name: 'exec',
  summary: 'Run a command in a container of a pod (kubectl exec), through the node API',
  usage: 'exec pod/NAME [-c CONTAINER] [-i] [-t] [-n NAMESPACE] [--node-api URL] -- COMMAND [ARG...]',
  async run(argv) {
    const { values, positionals } = parse(argv, {
      container: { type: 'string', short: 'c' },
      stdin: { type: 'boolean', short: 'i' },
      tty: { type: 'boolean', short: 't' },
    });
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
    const url = endpoint.url(`/exec${path(namespace, pod.metadata.name!, container.name)}?${query}`);
    return runSession(async () => url, { stdin, tty }, 'exec', endpoint.agent);
  },
};

export const podPortForwardCommand: Command = {
  name: 'port-forward',
  summary: 'Forward local ports to a pod (kubectl port-forward), through the node API',
  usage: 'port-forward pod/NAME [LOCAL_PORT:]REMOTE_PORT... [--address ADDR]... [-n NAMESPACE] [--node-api URL]',
  async run(argv) {
    const { values, positionals } = parse(argv, { address: { type: 'string', multiple: true } });
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
    return runPortForward(endpoint.url(`/portForward${path(namespace, pod.metadata.name!)}`), ports, addresses, endpoint.agent);
  },
};
