// Helpers for network integration tests: firewall dumps, links on a bridge, a TCP server inside a
// network namespace, timing.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';

export function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

export async function must(file: string, args: string[]): Promise<string> {
  const r = await run(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/** iptables-save and ip6tables-save, comments and counters dropped: one set of lines. */
export async function firewallRules(): Promise<Set<string>> {
  const lines = new Set<string>();
  for (const [tool, family] of [
    ['iptables-save', 'v4'],
    ['ip6tables-save', 'v6'],
  ] as const) {
    const r = await run(tool, []);
    let table = '';
    for (const raw of r.stdout.split('\n')) {
      if (raw === '' || raw.startsWith('#') || raw === 'COMMIT') continue;
      if (raw.startsWith('*')) {
        table = raw;
        continue;
      }
      lines.add(`${family} ${table} ${raw.replace(/ \[\d+:\d+\]$/, '')}`);
    }
  }
  return lines;
}

/** The iptables chain names the CNI plugins derive from (network, container id): bridge's masquerade chain, portmap's DNAT chain. */
export function cniChainNames(network: string, containerId: string): string[] {
  const hash = createHash('sha512')
    .update(network + containerId)
    .digest('hex');
  return [`CNI-${hash}`.slice(0, 28), `CNI-DN-${hash}`.slice(0, 28)];
}

/** Lines of `rules` that belong to one of the pods (by container id, IP or derived chain name). */
export function rulesOfPods(rules: Iterable<string>, network: string, pods: { id: string; ip?: string }[]): string[] {
  const needles = pods.flatMap((p) => [p.id, ...(p.ip ? [`${p.ip}/32`, `${p.ip}:`] : []), ...cniChainNames(network, p.id)]);
  return [...rules].filter((l) => needles.some((n) => l.includes(n)));
}

/** Names of the links enslaved to `bridge`. */
export async function bridgePorts(bridge: string): Promise<string[]> {
  const r = await run('ip', ['-o', 'link', 'show', 'master', bridge]);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split(':')[1]!.trim().split('@')[0]!);
}

export async function deleteLink(name: string): Promise<void> {
  await run('ip', ['link', 'del', name]);
}

export interface NetnsServer {
  process: ChildProcess;
  stop(): Promise<void>;
}

/** A TCP server inside the network namespace at `netns`, answering `reply` to every connection. */
export async function startServerInNetns(netns: string, port: number, reply: string): Promise<NetnsServer> {
  const code = `require('node:net').createServer((s) => s.end(${JSON.stringify(reply)})).listen(${port}, '0.0.0.0', () => console.log('ready'));`;
  const child = spawn('nsenter', [`--net=${netns}`, '--', process.execPath, '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.once('exit', (c) => reject(new Error(`server in ${netns} exited ${c}: ${err}`)));
  });
  return {
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  };
}

/** Connects, reads everything, returns it. */
export function tcpRead(host: string, port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    let data = '';
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`timeout connecting to ${host}:${port}`)));
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => resolve(data));
    s.on('error', reject);
  });
}

/** `ping` or busybox's, when either is installed. */
export function pingCommand(): string[] | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (existsSync(`${dir}/ping`)) return [`${dir}/ping`];
  for (const dir of ['/usr/bin', '/bin']) if (existsSync(`${dir}/busybox`)) return [`${dir}/busybox`, 'ping'];
  return undefined;
}

/** The chains portmap and firewall share between all pods and never remove. */
export const SHARED_CNI_CHAINS = ['CNI-HOSTPORT-DNAT', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SETMARK', 'CNI-FORWARD', 'CNI-ADMIN'];

export function isSharedCniRule(line: string): boolean {
  return SHARED_CNI_CHAINS.some((c) => line.includes(c));
}

async function chainRules(tool: string, table: string, chain: string): Promise<string[] | undefined> {
  const r = await run(tool, ['-w', '-t', table, '-S', chain]);
  if (r.code !== 0) return undefined;
  return r.stdout.split('\n').filter((l) => l.startsWith('-A '));
}
