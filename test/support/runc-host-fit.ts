// A runc for test Docker Engines on machines that lack a capability (these test machines have no
// CAP_SYS_RESOURCE): on `create` it takes out of the bundle's capability sets what the host's
// bounding set lacks, and raises an oom_score_adj below ours (which runc could not set without
// CAP_SYS_RESOURCE), then runs the real runc with the same arguments. Docker Engine has no such
// setting of its own (containerd has restrict_oom_score_adj; berth clamps in the dockershim);
// Docker's privileged containers ask for every capability the kernel knows.
//   usage: registered in daemon.json "runtimes" through a shell wrapper (docker-engine.ts).
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const RUNC = '/usr/sbin/runc';
const args = process.argv.slice(2);

function boundingSet(): Set<number> {
  const hex = /CapBnd:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  const mask = BigInt(`0x${hex}`);
  const out = new Set<number>();
  for (let i = 0; i < 64; i++) if ((mask >> BigInt(i)) & 1n) out.add(i);
  return out;
}

const CAP_NUMBERS: Record<string, number> = {
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_ADMIN: 21,
  CAP_BPF: 39,
  CAP_PERFMON: 38,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** Fits an OCI process (config.json's `process`, or runc exec's process.json) to this host. */
function fitProcess(proc: { capabilities?: Record<string, string[]>; oomScoreAdj?: number } | undefined): void {
  if (!proc) return;
  const have = boundingSet();
  const missing = Object.entries(CAP_NUMBERS)
    .filter(([, n]) => !have.has(n))
    .map(([name]) => name);
  const caps = proc.capabilities ?? {};
  for (const set of ['bounding', 'effective', 'permitted', 'inheritable', 'ambient']) {
    if (Array.isArray(caps[set])) caps[set] = caps[set].filter((c: string) => !missing.includes(c));
  }
  const own = Number(readFileSync('/proc/self/oom_score_adj', 'utf8').trim()) || 0;
  if (typeof proc.oomScoreAdj === 'number' && proc.oomScoreAdj < own) proc.oomScoreAdj = own;
}

function fitFile(file: string, inner: (doc: Record<string, unknown>) => unknown): void {
  const doc = JSON.parse(readFileSync(file, 'utf8'));
  fitProcess(inner(doc) as Parameters<typeof fitProcess>[0]);
  writeFileSync(file, JSON.stringify(doc));
}

function flagValue(after: number, names: string[]): string | undefined {
  const i = args.findIndex((a, j) => j > after && names.includes(a));
  if (i >= 0) return args[i + 1];
  for (const n of names) {
    const v = args.find((a) => a.startsWith(`${n}=`));
    if (v) return v.slice(n.length + 1);
  }
  return undefined;
}

const create = args.indexOf('create');
const exec = args.indexOf('exec');
if (create >= 0) {
  fitFile(path.join(flagValue(create, ['--bundle', '-b']) ?? process.cwd(), 'config.json'), (spec) => spec.process);
} else if (exec >= 0) {
  const processFile = flagValue(exec, ['--process', '-p']);
  if (processFile) fitFile(processFile, (p) => p);
}
const r = spawnSync(RUNC, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
