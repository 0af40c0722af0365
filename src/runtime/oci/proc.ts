// Processes seen through /proc: identity that survives PID reuse, liveness, and killing a whole
// process tree without letting a child escape by forking or by being re-parented.
import { readdir, readFile } from 'node:fs/promises';

export interface ProcStat {
  pid: number;
  /** One letter: R, S, D, Z (zombie), T (stopped), X (dead), … */
  state: string;
  ppid: number;
  /** Session ID: a background child keeps its session when its parent exits and it is re-parented. */
  session: number;
  /** Clock ticks after boot when the process started; with the pid it names one process for good. */
  startTime: string;
}

/** Parses /proc/<pid>/stat. The command name may hold spaces and parentheses: fields follow the last ')'. */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const session = Number(rest[3]);
  const startTime = rest[19];
  if (!Number.isInteger(pid) || state === undefined || !Number.isInteger(ppid) || startTime === undefined) return undefined;
  return { pid, state, ppid, session, startTime };
}

export async function readProcStat(pid: number, procRoot = '/proc'): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(await readFile(`${procRoot}/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * True when `pid` is a live process (not a zombie) and, if `startTime` is given, the same process
 * that had that start time (a recycled PID is not alive for us).
 */
export async function isProcessAlive(pid: number, startTime?: string, procRoot = '/proc'): Promise<boolean> {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const st = await readProcStat(pid, procRoot);
  if (st === undefined || st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Every process's parent, from one pass over /proc. */
export async function readParentTable(procRoot = '/proc'): Promise<Map<number, number>> {
  const table = new Map<number, number>();
  const names = await readdir(procRoot);
  await Promise.all(
    names.map(async (name) => {
      if (!/^\d+$/.test(name)) return;
      const st = await readProcStat(Number(name), procRoot);
      if (st !== undefined) table.set(st.pid, st.ppid);
    }),
  );
  return table;
}

/** Sends a signal, treating "no such process" as done. */
export function signalProcess(pid: number, sig: NodeJS.Signals | number): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

/**
 * Kills `rootPid` and all its descendants. First every member is stopped (SIGSTOP), from the root
 * down, rescanning /proc until no new child appears: a stopped process can neither fork nor die,
 * so none of its children can be re-parented out of sight. Then all get SIGKILL.
 * Returns the PIDs that were signalled.
 */
export async function killProcessTree(rootPid: number, procRoot = '/proc'): Promise<number[]> {
  const members = new Set<number>();
  if (!signalProcess(rootPid, 'SIGSTOP')) return [];
  members.add(rootPid);
  for (let round = 0; round < 100; round++) {
    const parents = await readParentTable(procRoot);
    const fresh: number[] = [];
    for (const [pid, ppid] of parents) {
      if (members.has(ppid) && !members.has(pid)) fresh.push(pid);
    }
    if (fresh.length === 0) break;
    for (const pid of fresh) {
      if (signalProcess(pid, 'SIGSTOP')) members.add(pid);
    }
  }
  for (const pid of members) signalProcess(pid, 'SIGKILL');
  return [...members];
}

/**
 * Kills every live process of session `sid` with its descendants, until none is left: what an
 * exec'd session leader started in the background, even after it exited and its children were
 * re-parented. A process that made itself a session of its own is not found.
 */
export async function killSession(sid: number, procRoot = '/proc'): Promise<number[]> {
  const killed: number[] = [];
  if (!Number.isInteger(sid) || sid <= 1) return killed;
  for (let round = 0; round < 10; round++) {
    const members: number[] = [];
    for (const name of await readdir(procRoot)) {
      if (!/^\d+$/.test(name)) continue;
      const st = await readProcStat(Number(name), procRoot);
      if (st !== undefined && st.session === sid && st.state !== 'Z' && st.state !== 'X') members.push(st.pid);
    }
    if (members.length === 0) break;
    for (const pid of members) killed.push(...(await killProcessTree(pid, procRoot)));
  }
  return killed;
}
