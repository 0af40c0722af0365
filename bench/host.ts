// What the benchmark reads from and undoes on the host: processes (by command line and process
// tree), memory (VmRSS, Pss), mounts, network namespaces, bridges, iptables rules and cgroups.
// Every undo step touches only what belongs to one benchmark run — its directory, its subnets,
// its bridges, its CNI network names, its cgroup parent — so runs of other tools on the same
// machine are left alone.
import { execFile } from 'node:child_process';
import { readdir, readFile, readlink, rmdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { sleep } from '../src/util/sleep.ts';

export { sleep };

const execFileAsync = promisify(execFile);

/** Runs a command; its stdout, or '' when it fails or is missing. */
export async function tryRun(command: string, args: string[], timeoutMs = 30_000): Promise<string> {
  try {
    return (await execFileAsync(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch {
    return '';
  }
}

// ---- processes ----

export interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  cmdline: string;
  /** Inode of the process's pid namespace (`pid:[…]`). */
  pidNs: string;
}

async function readProc(pid: number): Promise<ProcInfo | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses: the fields after it start at the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    if (fields[0] === 'Z') return undefined;
    const ppid = Number(fields[1]);
    const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ').trim();
    const pidNs = await readlink(`/proc/${pid}/ns/pid`).catch(() => '');
    return { pid, ppid, comm, cmdline, pidNs };
  } catch {
    return undefined;
  }
}

/** Every live process (zombies left out). */
export async function listProcesses(): Promise<ProcInfo[]> {
  const entries = await readdir('/proc');
  const infos = await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map((e) => readProc(Number(e))));
  return infos.filter((p): p is ProcInfo => p !== undefined);
}

/** Pids of `roots` and all their descendants, in the order found (roots first). */
export function withDescendants(processes: readonly ProcInfo[], roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const p of processes) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...seen];
}

/** Processes whose command line mentions `marker` (a run's directory), this process left out. */
export async function processesMentioning(marker: string): Promise<ProcInfo[]> {
  return (await listProcesses()).filter((p) => p.pid !== process.pid && p.cmdline.includes(marker));
}

/**
 * The runtime's own processes, without its workloads: `daemonPid`, every process whose command
 * line mentions `marker` (monitors and shims that were re-parented to init), and their
 * descendants that live in the host's pid namespace. Containers and sandboxes run in pid
 * namespaces of their own, so they fall out.
 */
export async function runtimeProcesses(daemonPid: number, marker: string): Promise<ProcInfo[]> {
  const processes = await listProcesses();
  const hostNs = await readlink('/proc/self/ns/pid');
  const roots = [daemonPid, ...processes.filter((p) => p.pid !== process.pid && p.cmdline.includes(marker)).map((p) => p.pid)];
  const byPid = new Map(processes.map((p) => [p.pid, p]));
  return withDescendants(processes, roots)
    .map((pid) => byPid.get(pid))
    .filter((p): p is ProcInfo => p !== undefined && p.pidNs === hostNs);
}

/** Kills (SIGKILL) every process that mentions `marker` and everything below them. Returns how many. */
export async function killProcessesMentioning(marker: string): Promise<number> {
  let killed = 0;
  for (let round = 0; round < 5; round++) {
    const processes = await listProcesses();
    const roots = processes.filter((p) => p.pid !== process.pid && p.cmdline.includes(marker)).map((p) => p.pid);
    if (roots.length === 0) break;
    for (const pid of withDescendants(processes, roots)) {
      if (pid === process.pid) continue;
      try {
        process.kill(pid, 'SIGKILL');
        killed++;
      } catch {
        // gone already
      }
    }
    await sleep(200);
  }
  return killed;
}

// ---- memory ----

export interface MemorySample {
  pid: number;
  comm: string;
  rssKb: number;
  pssKb: number;
}

async function statusField(pid: number, field: string): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m === null ? 0 : Number(m[1]);
}

/** VmRSS (kB) of one process; 0 when it is gone. */
export async function rssKb(pid: number): Promise<number> {
  return statusField(pid, 'VmRSS').catch(() => 0);
}

/** RssAnon, RssFile and RssShmem (kB) of one process; zeros when it is gone. */
export async function rssKinds(pid: number): Promise<{ anonKb: number; fileKb: number; shmemKb: number }> {
  const read = (field: string) => statusField(pid, field).catch(() => 0);
  return { anonKb: await read('RssAnon'), fileKb: await read('RssFile'), shmemKb: await read('RssShmem') };
}

/** Pss (kB) of one process, from smaps_rollup; 0 when it is gone or the kernel lacks the file. */
export async function pssKb(pid: number): Promise<number> {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}

export async function memoryOf(processes: readonly ProcInfo[]): Promise<MemorySample[]> {
  return Promise.all(processes.map(async (p) => ({ pid: p.pid, comm: p.comm, rssKb: await rssKb(p.pid), pssKb: await pssKb(p.pid) })));
}

/** Totals by command name: `{ containerd: { count: 1, rssKb: … }, … }`. */
export function memoryByComm(samples: readonly MemorySample[]): Record<string, { count: number; rssKb: number; pssKb: number }> {
  const out: Record<string, { count: number; rssKb: number; pssKb: number }> = {};
  for (const s of samples) {
    const entry = out[s.comm] ?? { count: 0, rssKb: 0, pssKb: 0 };
    entry.count++;
    entry.rssKb += s.rssKb;
    entry.pssKb += s.pssKb;
    out[s.comm] = entry;
  }
  return out;
}

export interface CpuTimes {
  /** utime + stime of the process (all its threads), ms. */
  selfMs: number;
  /** cutime + cstime: CPU of the children it has waited for (runc, CNI plugins, …), ms. */
  childrenMs: number;
}

/** CPU times of a process; zeros when it is gone. */
export async function cpuTimes(pid: number): Promise<CpuTimes> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after comm start at state (field 3): utime, stime, cutime, cstime are fields 14 to 17.
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const ms = (ticks: number | undefined) => ((ticks ?? 0) * 1000) / clockTicks();
    return { selfMs: ms(fields[11]) + ms(fields[12]), childrenMs: ms(fields[13]) + ms(fields[14]) };
  } catch {
    return { selfMs: 0, childrenMs: 0 };
  }
}

/** Busy and total CPU time of the whole machine so far, in ms (from /proc/stat). */
export async function machineCpuMs(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, v) => sum + v, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busy: ((total - idle) * 1000) / clockTicks(), total: (total * 1000) / clockTicks() };
}

function clockTicks(): number {
  // USER_HZ is 100 on every Linux architecture the runtimes support.
  return 100;
}

// ---- mounts ----

function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Mount points at or below `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescapeMountPath)
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

export async function unmountUnder(dir: string): Promise<string[]> {
  const points = await mountsUnder(dir);
  for (const point of points) await tryRun('umount', ['-l', '--', point]);
  return points;
}

// ---- runc ----

/** Directories below `dir` (depth ≤ 6) that look like runc roots: they hold `<id>/state.json`. */
export async function findRuncRoots(dir: string): Promise<string[]> {
  const roots = new Set<string>();
  const walk = async (current: string, depth: number): Promise<void> => {
    if (depth > 6) return;
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (entry.isFile() && entry.name === 'state.json') roots.add(path.dirname(current));
      else if (entry.isDirectory() && !entry.isSymbolicLink()) await walk(path.join(current, entry.name), depth + 1);
    }
  };
  await walk(dir, 0);
  return [...roots];
}

/** `runc kill` and `runc delete --force` of every container in the runc roots below `dir`. */
export async function deleteRuncContainers(dir: string, runc = '/usr/sbin/runc'): Promise<number> {
  let deleted = 0;
  for (const root of await findRuncRoots(dir)) {
    const ids = (await tryRun(runc, ['--root', root, 'list', '-q'])).split('\n').filter(Boolean);
    for (const id of ids) {
      await tryRun(runc, ['--root', root, 'kill', '--all', id, 'KILL']);
      await tryRun(runc, ['--root', root, 'delete', '--force', id]);
      deleted++;
    }
  }
  return deleted;
}

// ---- network ----

/** `10.231.` for 10.231.0.0/16: the text that starts every address of the subnet. */
export function subnetPrefix(subnet: string): string {
  const [address = '', bits = '0'] = subnet.split('/');
  const octets = Math.max(1, Math.floor(Number(bits) / 8));
  return `${address.split('.').slice(0, octets).join('.')}.`;
}

/** Named network namespaces (/var/run/netns) holding an IPv4 address in one of `subnets`. */
export async function netnsInSubnets(subnets: readonly string[]): Promise<string[]> {
  const prefixes = subnets.map(subnetPrefix);
  const names = await readdir('/var/run/netns').catch(() => [] as string[]);
  const found: string[] = [];
  for (const name of names) {
    const addresses = await tryRun('ip', ['-n', name, '-4', '-o', 'addr', 'show'], 5000);
    if (prefixes.some((prefix) => addresses.includes(` ${prefix}`))) found.push(name);
  }
  return found;
}

export async function removeNetnsInSubnets(subnets: readonly string[]): Promise<string[]> {
  const names = await netnsInSubnets(subnets);
  for (const name of names) await tryRun('ip', ['netns', 'delete', name]);
  return names;
}

export async function linkExists(name: string): Promise<boolean> {
  return (await tryRun('ip', ['-o', 'link', 'show', 'dev', name])).trim() !== '';
}

export async function removeLink(name: string): Promise<boolean> {
  if (!(await linkExists(name))) return false;
  await tryRun('ip', ['link', 'delete', name]);
  return true;
}

/** Splits an iptables-save rule into arguments, honouring double quotes. */
export function splitRule(rule: string): string[] {
  const args: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(rule); m !== null; m = re.exec(rule))
    args.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] as string));
  return args;
}

/** The chain a rule jumps or goes to. */
export function jumpTarget(rule: string): string | undefined {
  return /\s-[jg] (\S+)/.exec(rule)?.[1];
}

export interface RuleOwner {
  /** Subnets of the run: rules naming their addresses are the run's. */
  subnets: readonly string[];
  /** Bridges of the run. */
  bridges: readonly string[];
  /** CNI network names of the run (the bridge plugin writes `name: "…"` into rule comments). */
  networks: readonly string[];
}

/** True when an iptables-save rule line belongs to the run. */
export function ruleBelongs(rule: string, owner: RuleOwner): boolean {
  const prefixes = owner.subnets.map(subnetPrefix);
  if (prefixes.some((prefix) => rule.includes(` ${prefix}`) || rule.includes(` !${prefix}`))) return true;
  if (owner.bridges.some((bridge) => rule.includes(`-i ${bridge} `) || rule.includes(`-o ${bridge} `) || rule.endsWith(` ${bridge}`)))
    return true;
  return owner.networks.some((network) => rule.includes(`name: \\"${network}\\"`) || rule.includes(`name: "${network}"`));
}

function parseSave(text: string): { rules: string[]; chains: string[] } {
  const rules: string[] = [];
  const chains: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith(':')) chains.push(line.slice(1).split(' ')[0] as string);
    else if (line.startsWith('-A ')) rules.push(line);
  }
  return { rules, chains };
}

/** The run's iptables rules (nat and filter), as iptables-save prints them. */
export async function rulesOf(owner: RuleOwner): Promise<string[]> {
  const out: string[] = [];
  for (const table of ['nat', 'filter']) {
    const { rules } = parseSave(await tryRun('iptables-save', ['-t', table]));
    for (const rule of rules) if (ruleBelongs(rule, owner)) out.push(`${table}: ${rule}`);
  }
  return out;
}

/**
 * Deletes the run's rules in the nat and filter tables, then the chains that only those rules
 * jumped to (the per-pod CNI-… chains of ipMasq), when nothing else refers to them any more.
 * Returns how many rules and chains went.
 */
export async function removeRules(owner: RuleOwner): Promise<number> {
  let removed = 0;
  for (const table of ['nat', 'filter']) {
    for (let round = 0; round < 5; round++) {
      const { rules } = parseSave(await tryRun('iptables-save', ['-t', table]));
      const ours = rules.filter((rule) => ruleBelongs(rule, owner));
      const targets = new Set(ours.map(jumpTarget).filter((t): t is string => t !== undefined && /^CNI-[0-9a-f]+$/.test(t)));
      for (const rule of ours) {
        await tryRun('iptables', ['-t', table, '-D', ...splitRule(rule).slice(1)]);
        removed++;
      }
      const after = parseSave(await tryRun('iptables-save', ['-t', table]));
      for (const chain of targets) {
        if (!after.chains.includes(chain)) continue;
        if (after.rules.some((rule) => !rule.startsWith(`-A ${chain} `) && jumpTarget(rule) === chain)) continue;
        await tryRun('iptables', ['-t', table, '-F', chain]);
        await tryRun('iptables', ['-t', table, '-X', chain]);
        removed++;
      }
      if (ours.length === 0 && targets.size === 0) break;
    }
  }
  return removed;
}

// ---- cgroups ----

/** Mount points of the cgroup hierarchies (v1 controllers and v2). */
export async function cgroupMounts(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  const points: string[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (left === undefined || right === undefined) continue;
    const fstype = right.split(' ')[0];
    if (fstype === 'cgroup' || fstype === 'cgroup2') points.push(unescapeMountPath(left.split(' ')[4] as string));
  }
  return [...new Set(points)];
}

/** Directories named `top` (an absolute cgroup path such as `/berth-bench-x`) in any hierarchy. */
export async function cgroupDirs(top: string): Promise<string[]> {
  const found: string[] = [];
  for (const mount of await cgroupMounts()) {
    const dir = path.join(mount, top);
    if ((await readdir(dir).catch(() => undefined)) !== undefined) found.push(dir);
  }
  return found;
}

/** Removes the cgroup tree `top` in every hierarchy, deepest first (cgroups hold no processes by then). */
export async function removeCgroupTree(top: string): Promise<string[]> {
  const dirs = await cgroupDirs(top);
  const removeDeep = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) if (entry.isDirectory()) await removeDeep(path.join(dir, entry.name));
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        await rmdir(dir);
        return;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return;
        if (code !== 'EBUSY') return;
        await sleep(100);
      }
    }
  };
  for (const dir of dirs) await removeDeep(dir);
  return dirs;
}
