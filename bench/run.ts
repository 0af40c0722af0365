// Side-by-side benchmark of berth daemon, berth dockershim and containerd (issues 5 and 11), and
// cri-dockerd when its binary is given: the same workloads, through berth's own CRI client, against
// each runtime in turn, on the same machine and in the same run.
//
//   npm run bench                 # full run: 3 rounds (about 12 minutes), writes bench/results/<date>-<commit>.json
//   npm run bench -- --quick      # 1 round, small counts (about 2 minutes), writes bench/results/quick.json
//   npm run bench -- --help
//
// Needs root. Installs its Debian packages when missing (bench/install-deps.sh), starts a
// registry on loopback, containerd, berth daemon, and berth dockershim and cri-dockerd each on a
// Docker Engine of its own, all with temporary configs, and removes all of
// it again — pods, processes, mounts, network namespaces, bridges, iptables rules, cgroups,
// directories — also after a failure or Ctrl-C. A run killed outright (SIGKILL) is cleaned up
// by the next run. A full run needs a committed tree (bench/revision.ts): its figures are the
// ones docs/BENCHMARKS.md may quote, so the result file names the commit they describe.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { freePort } from '../test/support/ports.ts';
import { startBerth } from './berth.ts';
import { berthPullTimeline } from './berth-pull-timeline.ts';
import { CONTAINERD_BINARY, RUNC_BINARY, startContainerd } from './containerd.ts';
import { startCriDockerd } from './cri-dockerd.ts';
import { DOCKERD_BINARY } from './docker-engine.ts';
import { startDockershim } from './dockershim.ts';
import { tryRun } from './host.ts';
import { type BenchImages, prepareImages } from './images.ts';
import { connectInspector, type InspectorClient } from './inspector.ts';
import { type MachineInfo, readMachine } from './machine.ts';
import { METRIC_NAMES, type MetricName } from './metrics.ts';
import { makeProfiler } from './profile.ts';
import { goalResults, mergeRounds, metricTable, renderTable } from './report.ts';
import { describeRevision, isCommitted, keptResultPath, type Revision, readRevision, sameRevision } from './revision.ts';
import {
  type CleanupReport,
  cleanFootprint,
  isRuntimeName,
  type RuntimeFootprint,
  type RuntimeName,
  type RuntimeUnderTest,
} from './runtime-under-test.ts';
import { round } from './stats.ts';
import { type RuntimeRun, runWorkloads, type WorkloadSettings } from './workloads.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const RESULTS_DIR = path.join(REPO_ROOT, 'bench', 'results');
const PROFILE_DIR = path.join(RESULTS_DIR, 'profiles');
const RUN_DIR_PREFIX = 'berth-bench-';

const USAGE = `usage: npm run bench -- [options]

  --quick               small counts for a quick look (writes bench/results/quick.json)
  --runtimes LIST       runtimes to run, in order: containerd, berth, dockershim, cri-dockerd
                        (default containerd,berth,dockershim, and cri-dockerd when its binary is given)
  --cri-dockerd PATH    the cri-dockerd binary to run (or env BERTH_BENCH_CRI_DOCKERD); it is never
                        built or downloaded here
  --seq-pods N          workload 1: pods started one after another (50; quick 10)
  --conc-pods N         workload 2: pods started at --concurrency (100; quick 16)
  --concurrency N       workload 2 concurrency (8)
  --warmup N            pods started and removed before workload 1, not measured (2; quick 1)
  --execs N             workload 4: ExecSync calls (200; quick 30)
  --lists N             workload 5: calls of each list RPC (100; quick 20)
  --pull-runs N         workload 7: cold pulls per round, the median counts (1)
  --rounds N            run every runtime N times, alternating; figures are medians (3; quick 1)
  --profile             profile workloads 1, 4, 5 and 7: perf samples of the whole machine, and
                        V8 CPU profiles of berth daemon (into bench/results/profiles/)
  --out FILE            results file (default bench/results/<date>-<commit>.json, the kept result
                        of a full run from a committed tree; quick: quick.json)
  --allow-uncommitted   run a full benchmark from a tree with uncommitted changes anyway: the
                        result is marked so and goes to bench/results/uncommitted.json
  --no-install          do not run bench/install-deps.sh
  -h, --help            this text
`;

interface Options {
  quick: boolean;
  runtimes: RuntimeName[];
  /** The cri-dockerd executable, when given. */
  criDockerd: string | undefined;
  settings: WorkloadSettings;
  /** Undefined: the default for the kind of run and the revision (see resultPath). */
  out: string | undefined;
  allowUncommitted: boolean;
  install: boolean;
  profile: boolean;
  /** Each round runs every runtime once more; the figures are the medians over the rounds. */
  rounds: number;
}

function parseOptions(argv: string[]): Options | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      runtimes: { type: 'string' },
      'cri-dockerd': { type: 'string' },
      'seq-pods': { type: 'string' },
      'conc-pods': { type: 'string' },
      concurrency: { type: 'string' },
      warmup: { type: 'string' },
      execs: { type: 'string' },
      lists: { type: 'string' },
      'pull-runs': { type: 'string' },
      rounds: { type: 'string' },
      profile: { type: 'boolean', default: false },
      out: { type: 'string' },
      'allow-uncommitted': { type: 'boolean', default: false },
      'no-install': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return undefined;
  const quick = values.quick === true;
  const count = (key: keyof typeof values, full: number, small: number, min = 1): number => {
    const raw = values[key];
    if (raw === undefined) return quick ? small : full;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${key} must be an integer ≥ ${min}, got ${String(raw)}`);
    return n;
  };
  const criDockerd = values['cri-dockerd'] ?? (process.env.BERTH_BENCH_CRI_DOCKERD || undefined);
  const defaultRuntimes = `containerd,berth,dockershim${criDockerd === undefined ? '' : ',cri-dockerd'}`;
  const runtimes = (values.runtimes ?? defaultRuntimes).split(',').map((r) => r.trim());
  for (const r of runtimes) if (!isRuntimeName(r)) throw new Error(`--runtimes: unknown runtime ${r}`);
  if (new Set(runtimes).size !== runtimes.length) throw new Error('--runtimes: a runtime is named twice');
  if (runtimes.includes('cri-dockerd') && criDockerd === undefined)
    throw new Error('--runtimes: cri-dockerd needs its binary: --cri-dockerd PATH (or BERTH_BENCH_CRI_DOCKERD)');
  return {
    quick,
    runtimes: runtimes as RuntimeName[],
    criDockerd: criDockerd === undefined ? undefined : path.resolve(criDockerd),
    install: values['no-install'] !== true,
    out: values.out === undefined ? undefined : path.resolve(values.out),
    allowUncommitted: values['allow-uncommitted'] === true,
    settings: {
      seqPods: count('seq-pods', 50, 10),
      concPods: count('conc-pods', 100, 16),
      concurrency: count('concurrency', 8, 8),
      warmupPods: count('warmup', 2, 1, 0),
      execs: count('execs', 200, 30),
      lists: count('lists', 100, 20),
      pullRuns: count('pull-runs', 1, 1),
    },
    profile: values.profile === true,
    rounds: count('rounds', 3, 1),
  };
}

const started = Date.now();
function log(line: string): void {
  const s = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${s}s] ${line}\n`);
}

// ---- the run's footprint on the host, recorded so that a later run can undo a killed one ----

interface RunRecord {
  pid: number;
  startedAt: string;
  footprints: RuntimeFootprint[];
}

async function saveRecord(runDir: string, record: RunRecord): Promise<void> {
  await writeFile(path.join(runDir, 'run.json'), `${JSON.stringify(record, null, 2)}\n`);
}

function benchRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  return spawnSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' }).stdout.includes('bench/run.ts');
}

/** Undoes what runs that were killed outright left behind (their pid is gone). */
async function cleanStaleRuns(): Promise<void> {
  for (const entry of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!entry.startsWith(RUN_DIR_PREFIX)) continue;
    const dir = path.join(tmpdir(), entry);
    let record: RunRecord;
    try {
      record = JSON.parse(await readFile(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
    } catch {
      continue;
    }
    if (record.pid === process.pid || benchRunning(record.pid)) continue;
    log(`cleaning up after an earlier run that did not finish (${dir})`);
    for (const footprint of record.footprints) {
      const report = await cleanFootprint(footprint);
      if (report.undone.length > 0) log(`  ${footprint.name}: undid ${report.undone.join(', ')}`);
      if (report.leftovers.length > 0) log(`  ${footprint.name}: still there: ${report.leftovers.join(', ')}`);
    }
    await tryRun('umount', ['-R', '-l', dir]);
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  }
}

/** `count` /16 subnets of 10.0.0.0/8 that no interface or route of the host uses. */
async function freeSubnets(count: number): Promise<string[]> {
  const used = `${await tryRun('ip', ['-4', '-o', 'addr', 'show'])}\n${await tryRun('ip', ['-4', 'route', 'show', 'table', 'all'])}`;
  const out: string[] = [];
  const start = 200 + Math.floor(Math.random() * 40);
  for (let i = 0; i < 55 && out.length < count; i++) {
    const octet = 200 + ((start - 200 + i) % 55);
    if (!used.includes(`10.${octet}.`)) out.push(`10.${octet}.0.0/16`);
  }
  if (out.length < count) throw new Error('no free 10.x.0.0/16 subnet for the pod networks');
  return out;
}

const SHORT_NAMES: Record<RuntimeName, string> = { containerd: 'ctr', berth: 'brt', dockershim: 'dks', 'cri-dockerd': 'crd' };

function footprintFor(name: RuntimeName, runDir: string, runId: string, subnet: string): RuntimeFootprint {
  const short = SHORT_NAMES[name];
  return {
    name,
    dir: path.join(runDir, name),
    subnet,
    bridge: `b${short}-${runId}`,
    network: `bench-${name}-${runId}`,
    cgroupTop: `/berth-bench-${runId}-${name}`,
  };
}

// ---- main ----

interface Interruptible {
  runtimes: Set<RuntimeUnderTest>;
  images?: BenchImages;
  runDir?: string;
}

async function cleanupAll(state: Interruptible): Promise<Partial<Record<RuntimeName, CleanupReport>>> {
  const reports: Partial<Record<RuntimeName, CleanupReport>> = {};
  for (const rt of state.runtimes) {
    reports[rt.name] = await rt.stop();
    state.runtimes.delete(rt);
  }
  await state.images?.stop();
  state.images = undefined;
  if (state.runDir !== undefined) {
    await tryRun('umount', ['-R', '-l', state.runDir]);
    await rm(state.runDir, { recursive: true, force: true, maxRetries: 3 });
    state.runDir = undefined;
  }
  return reports;
}

function emptyRun(note: string): RuntimeRun {
  const metrics: Partial<Record<MetricName, number | null>> = {};
  for (const name of METRIC_NAMES) metrics[name] = null;
  return { metrics, notes: [note], details: {} };
}

/** Starts one runtime, runs the workloads, stops it and cleans up; undefined when interrupted. */
async function runRuntime(
  name: RuntimeName,
  tag: string,
  footprint: RuntimeFootprint,
  images: BenchImages,
  options: Options,
  state: Interruptible,
  isInterrupted: () => boolean,
  runRevision: RunRevision,
): Promise<{ run: RuntimeRun; cleanup: CleanupReport } | undefined> {
  const inspectPort = name === 'berth' && options.profile ? await freePort() : undefined;
  log(`${tag}: starting (subnet ${footprint.subnet}, bridge ${footprint.bridge})`);
  let rt: RuntimeUnderTest;
  try {
    const common = { footprint, registryUrl: images.registry.url, sandboxImage: images.sandbox };
    if (name === 'containerd') rt = await startContainerd(common);
    else if (name === 'berth') rt = await startBerth({ ...common, inspectPort });
    else if (name === 'dockershim') rt = await startDockershim(common);
    else rt = await startCriDockerd({ ...common, binary: options.criDockerd as string, workloadImage: images.workload });
  } catch (e) {
    log(`${tag}: did not start: ${(e as Error).message}`);
    return { run: emptyRun(`${name} did not start: ${(e as Error).message.split('\n')[0]}`), cleanup: await cleanFootprint(footprint) };
  }
  state.runtimes.add(rt);
  const revision = name === 'berth' ? await readRevision(REPO_ROOT) : undefined;
  if (isInterrupted()) {
    await rt.stop();
    return undefined;
  }
  log(`${tag}: running the workloads`);
  let inspector: Promise<InspectorClient> | undefined;
  const getInspector = inspectPort === undefined ? undefined : () => (inspector ??= connectInspector(inspectPort));
  const profiler = options.profile
    ? makeProfiler({
        runtime: name,
        dir: PROFILE_DIR,
        repoRoot: REPO_ROOT,
        inspector: getInspector,
      })
    : undefined;
  const loadStart = loadAverage();
  const heapUsage =
    getInspector === undefined
      ? undefined
      : async (collect: boolean) => {
          const client = await getInspector();
          if (collect) await client.send('HeapProfiler.collectGarbage');
          const usage = await client.send('Runtime.getHeapUsage');
          return { usedKb: Math.round(Number(usage.usedSize) / 1024), totalKb: Math.round(Number(usage.totalSize) / 1024) };
        };
  const run = await runWorkloads(rt, images, { ...options.settings, profiler, heapUsage }, log);
  if (name === 'berth' && options.profile) {
    try {
      const timeline = await berthPullTimeline(rt, images.big);
      run.details.pullTimeline = timeline;
      log(`  pull timeline: ${timeline.totalS} s = download ${timeline.downloadS} s, unpack ${timeline.unpackS} s (overlapping)`);
    } catch (e) {
      run.notes.push(`pull timeline: ${(e as Error).message}`);
    }
  }
  run.details.loadAverage = { start: loadStart, end: loadAverage() };
  if (revision !== undefined) {
    run.details.berthRevision = describeRevision(revision);
    if (!sameRevision(revision, runRevision)) runRevision.changedDuringRun = true;
  }
  // An open inspector session keeps the daemon from exiting on SIGTERM.
  if (inspector !== undefined) (await inspector.catch(() => undefined))?.close();
  log(`${tag}: stopping and cleaning up`);
  const report = await rt.stop();
  state.runtimes.delete(rt);
  if (report.undone.length > 0) log(`${tag}: cleanup removed ${report.undone.join(', ')}`);
  if (report.leftovers.length > 0) log(`${tag}: LEFT ON THE HOST: ${report.leftovers.join(', ')}`);
  return { run, cleanup: report };
}

/**
 * Where the results go: the kept file of a full run whose code was one commit from start to end,
 * else quick.json or uncommitted.json (never a name that looks kept).
 */
function resultPath(options: Options, revision: RunRevision, startedAt: Date): string {
  if (options.out !== undefined) return options.out;
  if (options.quick) return path.join(RESULTS_DIR, 'quick.json');
  if (isCommitted(revision) && !revision.changedDuringRun) return keptResultPath(REPO_ROOT, revision, startedAt);
  return path.join(RESULTS_DIR, 'uncommitted.json');
}

interface RunRevision extends Revision {
  /** The checkout's commit or changes differed when a later runtime started. */
  changedDuringRun: boolean;
}

function loadAverage(): number {
  return Math.round((os.loadavg()[0] ?? 0) * 100) / 100;
}

async function main(): Promise<number> {
  let options: Options | undefined;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options === undefined) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('bench: needs root (it starts container runtimes)\n');
    return 1;
  }
  if (options.install) {
    const install = spawnSync(path.join(REPO_ROOT, 'bench', 'install-deps.sh'), { stdio: 'inherit' });
    if (install.status !== 0) return 1;
  }
  const onDocker = options.runtimes.some((r) => r === 'dockershim' || r === 'cri-dockerd');
  for (const file of [
    CONTAINERD_BINARY,
    RUNC_BINARY,
    '/usr/bin/conmon',
    '/usr/lib/cni/bridge',
    '/usr/bin/docker-registry',
    '/bin/busybox',
    ...(onDocker ? [DOCKERD_BINARY] : []),
    ...(options.criDockerd !== undefined && options.runtimes.includes('cri-dockerd') ? [options.criDockerd] : []),
  ]) {
    if (!existsSync(file)) {
      process.stderr.write(`bench: ${file} is missing (bench/install-deps.sh installs it)\n`);
      return 1;
    }
  }
  const { settings } = options;
  const revision: RunRevision = { ...(await readRevision(REPO_ROOT)), changedDuringRun: false };
  if (!isCommitted(revision) && !options.quick && !options.allowUncommitted && options.out === undefined) {
    process.stderr.write(
      `bench: berth is at ${describeRevision(revision)}.\n` +
        'A full run is quoted by docs/BENCHMARKS.md, so it must be of a commit: commit first, or pass\n' +
        '--allow-uncommitted (the result is then marked and written to bench/results/uncommitted.json).\n',
    );
    return 2;
  }
  log(`berth at ${describeRevision(revision)}`);
  await cleanStaleRuns();
  const machine: MachineInfo = await readMachine();
  log(`${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryMb} MB, kernel ${machine.kernel}, load ${machine.loadAverage.start}`);

  const state: Interruptible = { runtimes: new Set() };
  let interrupted: Promise<unknown> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted !== undefined) {
      log(`${signal} again: still cleaning up, please wait`);
      return;
    }
    log(`${signal}: stopping the runtimes and cleaning up`);
    // Stopping the daemons makes the calls in flight fail at once; main() then waits for this.
    interrupted = cleanupAll(state).finally(() => {
      // main() exits when the workloads have unwound; should it hang, exit anyway.
      setTimeout(() => process.exit(130), 15_000).unref();
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  // A reader that goes away (`| head`) must not end the run before its cleanup.
  process.stdout.on('error', () => undefined);
  process.stderr.on('error', () => undefined);
  process.on('uncaughtException', (e) => {
    process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
    cleanupAll(state).finally(() => process.exit(1));
  });

  const runs: Partial<Record<RuntimeName, RuntimeRun>> = {};
  const cleanup: Partial<Record<RuntimeName, CleanupReport>> = {};
  try {
    const runId = randomBytes(3).toString('hex');
    const runDir = await mkdtemp(path.join(tmpdir(), RUN_DIR_PREFIX));
    state.runDir = runDir;
    const record: RunRecord = { pid: process.pid, startedAt: new Date().toISOString(), footprints: [] };
    await saveRecord(runDir, record);
    if (options.profile) {
      await rm(PROFILE_DIR, { recursive: true, force: true });
      await mkdir(PROFILE_DIR, { recursive: true });
    }

    log('building and pushing the images (busybox, pause, 200 MB)');
    state.images = await prepareImages();
    const images = state.images;
    log(
      `registry ${images.registry.url}: ${images.bigInfo.layers} layers, ${images.bigInfo.files} files, ${images.bigInfo.compressedBytes} bytes compressed`,
    );

    const subnets = await freeSubnets(options.runtimes.length);
    const perRound: Partial<Record<RuntimeName, RuntimeRun[]>> = {};
    const cleanups: Partial<Record<RuntimeName, CleanupReport[]>> = {};
    for (let round = 1; round <= options.rounds; round++) {
      for (const [i, name] of options.runtimes.entries()) {
        if (interrupted !== undefined) break;
        const tag = options.rounds > 1 ? `${name} (round ${round}/${options.rounds})` : name;
        const footprint = footprintFor(name, runDir, `${runId}${options.rounds > 1 ? round : ''}`, subnets[i] as string);
        record.footprints.push(footprint);
        await saveRecord(runDir, record);
        const outcome = await runRuntime(name, tag, footprint, images, options, state, () => interrupted !== undefined, revision);
        if (outcome === undefined) break;
        perRound[name] = [...(perRound[name] ?? []), outcome.run];
        cleanups[name] = [...(cleanups[name] ?? []), outcome.cleanup];
      }
    }
    for (const name of options.runtimes) {
      const list = perRound[name];
      if (list !== undefined) runs[name] = mergeRounds(list);
      const reports = cleanups[name];
      if (reports !== undefined)
        cleanup[name] = { undone: reports.flatMap((r) => r.undone), leftovers: reports.flatMap((r) => r.leftovers) };
    }
  } catch (e) {
    // After an interruption, calls fail because the daemons are gone: that is expected.
    if (interrupted === undefined) throw e;
  } finally {
    if (interrupted === undefined) await cleanupAll(state);
  }
  if (interrupted !== undefined) {
    await interrupted;
    // The run dir may have been made after the handler ran, or the handler raced with main().
    await cleanupAll(state);
    log('interrupted: everything the run started is gone; no results written');
    return 130;
  }

  machine.loadAverage.end = loadAverage();
  const metrics = metricTable(runs, options.runtimes);
  const goals = goalResults(metrics);
  const notes: Record<string, string[]> = {};
  for (const name of options.runtimes) notes[name] = runs[name]?.notes ?? [];
  const result = {
    revision: {
      commit: revision.commit,
      committed: isCommitted(revision) && !revision.changedDuringRun,
      uncommitted: revision.uncommitted,
      changedDuringRun: revision.changedDuringRun,
    },
    metrics,
    goals,
    machine,
    method: {
      quick: options.quick,
      runtimes: options.runtimes,
      criDockerd: options.criDockerd ?? null,
      rounds: options.rounds,
      settings,
      profiled: options.profile,
      startedAt: new Date(started).toISOString(),
      durationS: round((Date.now() - started) / 1000, 1),
      description:
        'Each runtime in turn (same run, same machine, same registry on loopback, same CNI bridge conflist on its own bridge and subnet, runc with cgroupfs), driven by berth’s CRI client; berth dockershim and cri-dockerd each on a private Docker Engine whose dockerd and containerd count as the runtime’s daemon. Latencies are nearest-rank percentiles of wall time measured by the client. See docs/BENCHMARKS.md.',
    },
    notes,
    cleanup,
    details: Object.fromEntries(options.runtimes.map((name) => [name, runs[name]?.details ?? {}])),
  };
  const out = resultPath(options, revision, new Date(started));
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(result, null, 2)}\n`);
  // In the project's own format, so that the results file passes the lint like every other file.
  const biome = path.join(REPO_ROOT, 'node_modules', '.bin', 'biome');
  if (existsSync(biome)) spawnSync(biome, ['format', '--write', out], { cwd: REPO_ROOT, stdio: 'ignore' });

  process.stdout.write(
    `\n${renderTable(
      metrics,
      goals,
      options.runtimes.filter((r) => runs[r] !== undefined),
    )}\n\n`,
  );
  for (const name of options.runtimes) for (const note of notes[name] ?? []) process.stdout.write(`${name}: ${note}\n`);
  process.stdout.write(`\nresults: ${path.relative(process.cwd(), out)}\n`);
  if (revision.changedDuringRun) process.stdout.write('the checkout changed during the run: these figures are of no one commit\n');
  else if (!options.quick && isCommitted(revision))
    process.stdout.write('a kept result: commit it, and cite this file where docs/BENCHMARKS.md quotes its figures\n');

  const leftovers = Object.values(cleanup).flatMap((r) => r?.leftovers ?? []);
  const containerdMissing = options.runtimes.includes('containerd') && METRIC_NAMES.some((name) => metrics[name].containerd === null);
  if (leftovers.length > 0) process.stderr.write(`bench: cleanup left ${leftovers.length} things on the host\n`);
  if (containerdMissing) process.stderr.write('bench: containerd did not run every workload (see the notes)\n');
  return leftovers.length > 0 || containerdMissing ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
