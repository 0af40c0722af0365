// Which revision of berth a benchmark ran: figures that are quoted must come from a commit, so
// that anyone can check out the code they describe. A run from a tree with uncommitted changes
// is refused, or (when asked) marked as such and written under a name that is not kept.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface Revision {
  /** The full commit hash of HEAD, or null outside a git checkout. */
  commit: string | null;
  /** Paths that differ from the commit (tracked changes and untracked files), results excepted. */
  uncommitted: string[];
}

/** Results are written into the tree while it is checked: they are not changes to the code. */
const RESULTS_PREFIX = 'bench/results/';

async function git(repoRoot: string, args: string[]): Promise<string | undefined> {
  try {
    return (await execFileAsync('git', ['-C', repoRoot, ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
  } catch {
    return undefined;
  }
}

export async function readRevision(repoRoot: string): Promise<Revision> {
  const head = (await git(repoRoot, ['rev-parse', '--verify', 'HEAD']))?.trim();
  if (head === undefined || head === '') return { commit: null, uncommitted: [] };
  const status = (await git(repoRoot, ['status', '--porcelain=v1', '-z', '--untracked-files=all'])) ?? '';
  const uncommitted: string[] = [];
  const entries = status.split('\0');
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.length < 4) continue;
    const file = entry.slice(3);
    // A rename is followed by its old name.
    if (entry[0] === 'R' || entry[0] === 'C') i++;
    // The installed dependencies may be a link to a shared install, which `node_modules/` does not ignore.
    if (file === 'node_modules' || file.startsWith(RESULTS_PREFIX)) continue;
    uncommitted.push(file);
  }
  return { commit: head, uncommitted: uncommitted.sort() };
}

/** Whether `revision` names a commit and nothing differs from it. */
export function isCommitted(revision: Revision): boolean {
  return revision.commit !== null && revision.uncommitted.length === 0;
}

/** The same commit and the same (lack of) changes. */
export function sameRevision(a: Revision, b: Revision): boolean {
  return a.commit === b.commit && a.uncommitted.join('\n') === b.uncommitted.join('\n');
}

/** `bench/results/<YYYY-MM-DD>-<12 hex of the commit>.json`: the kept result of a full run from a commit. */
export function keptResultPath(repoRoot: string, revision: Revision, at: Date): string {
  if (!isCommitted(revision)) throw new Error('only a run from a committed tree has a kept result file');
  return path.join(repoRoot, 'bench', 'results', `${at.toISOString().slice(0, 10)}-${revision.commit!.slice(0, 12)}.json`);
}

/** What `keptResultPath` names: date and commit prefix, or undefined for any other name. */
export function parseKeptResultName(file: string): { date: string; commit: string } | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})-([0-9a-f]{12})\.json$/.exec(path.basename(file));
  return m === null ? undefined : { date: m[1]!, commit: m[2]! };
}

/** One line for the log and the refusal. */
export function describeRevision(revision: Revision): string {
  if (revision.commit === null) return 'not a git checkout';
  const short = revision.commit.slice(0, 12);
  if (revision.uncommitted.length === 0) return `commit ${short}`;
  const shown = revision.uncommitted.slice(0, 5).join(', ');
  const more = revision.uncommitted.length > 5 ? ` and ${revision.uncommitted.length - 5} more` : '';
  return `commit ${short} with uncommitted changes (${shown}${more})`;
}
