// Undoing what a test's CNI network left on the host, and nothing else: network namespaces that
// hold an address in the test's subnet, the test's bridge, and iptables rules and chains that
// appeared during the test and belong to its subnet (or are empty chains nobody else uses).
// The portmap plugin's shared chains (CNI-HOSTPORT-*) stay: every portmap user on the host jumps
// through them, portmap itself never removes them, and other tests may be adding rules right now.
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function tryRun(command: string, args: string[]): Promise<string> {
  try {
    return (await run(command, args, { timeout: 15_000 })).stdout;
  } catch {
    return '';
  }
}

/** `10.99.` for 10.99.0.0/16: enough to recognise the subnet's addresses in text. */
function subnetPrefix(subnet: string): string {
  const [address, bits] = subnet.split('/');
  const octets = Math.floor(Number(bits) / 8);
  return `${address!.split('.').slice(0, octets).join('.')}.`;
}

export async function removeNetnsInSubnet(subnet: string): Promise<string[]> {
  const prefix = subnetPrefix(subnet);
  const names = await readdir('/var/run/netns').catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const addresses = await tryRun('ip', ['-n', name, '-4', '-o', 'addr', 'show']);
    if (!addresses.includes(` ${prefix}`)) continue;
    await tryRun('ip', ['netns', 'delete', name]);
    removed.push(name);
  }
  return removed;
}

export async function removeLink(name: string): Promise<void> {
  await tryRun('ip', ['link', 'delete', name]);
}

export interface IptablesSnapshot {
  rules: Map<string, Set<string>>;
  chains: Map<string, Set<string>>;
}

const TABLES = ['nat', 'filter'] as const;
const SHARED_CHAIN = /^CNI-HOSTPORT-/;

function parseSave(text: string): { rules: Set<string>; chains: Set<string> } {
  const rules = new Set<string>();
  const chains = new Set<string>();
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) chains.add(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) rules.add(line);
  }
  return { rules, chains };
}

export async function snapshotIptables(): Promise<IptablesSnapshot> {
  const snapshot: IptablesSnapshot = { rules: new Map(), chains: new Map() };
  for (const table of TABLES) {
    const { rules, chains } = parseSave(await tryRun('iptables-save', ['-t', table]));
    snapshot.rules.set(table, rules);
    snapshot.chains.set(table, chains);
  }
  return snapshot;
}

/** Splits an iptables-save rule into arguments, honouring double quotes. */
export function splitRule(rule: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m !== null; m = re.exec(rule)) args.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return args;
}

function jumpTarget(rule: string): string | undefined {
  return /\s-[jg] (\S+)/.exec(rule)?.[1];
}

/** Removes rules and chains that appeared since `before` and belong to `subnet` (or to `bridge`). */
export async function restoreIptables(before: IptablesSnapshot, subnet: string, bridge: string): Promise<void> {
  const prefix = subnetPrefix(subnet);
  for (const table of TABLES) {
    for (let round = 0; round < 5; round++) {
      const now = parseSave(await tryRun('iptables-save', ['-t', table]));
      const oldRules = before.rules.get(table) ?? new Set();
      const oldChains = before.chains.get(table) ?? new Set();
      const newChains = [...now.chains].filter((c) => !oldChains.has(c));
      // Only what names this test's subnet or bridge, and the chains those rules jump to: other
      // tests' pods may be half-way through their own CNI ADD on this host right now.
      const ours = [...now.rules].filter(
        (r) => !oldRules.has(r) && (r.includes(` ${prefix}`) || r.includes(`-i ${bridge} `) || r.includes(`-o ${bridge} `)),
      );
      const targets = new Set(
        ours.map(jumpTarget).filter((c): c is string => c !== undefined && newChains.includes(c) && !SHARED_CHAIN.test(c)),
      );
      for (const rule of ours) await tryRun('iptables', ['-t', table, '-D', ...splitRule(rule).slice(1)]);
      const after = parseSave(await tryRun('iptables-save', ['-t', table]));
      let deleted = 0;
      for (const chain of targets) {
        const referenced = [...after.rules].some((r) => jumpTarget(r) === chain);
        if (referenced) continue;
        await tryRun('iptables', ['-t', table, '-F', chain]);
        await tryRun('iptables', ['-t', table, '-X', chain]);
        deleted++;
      }
      if (ours.length === 0 && deleted === 0) break;
    }
  }
}
