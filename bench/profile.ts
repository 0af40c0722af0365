// Where the time goes: system-wide `perf` sampling during a workload (CPU share by command name
// and by thread), and a summary of a V8 .cpuprofile (berth's --cpu-prof).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sleep, tryRun } from './host.ts';
import { type InspectorClient, startCpuProfile } from './inspector.ts';

export const PERF_BINARY = '/usr/bin/perf';

export function perfAvailable(): boolean {
  return existsSync(PERF_BINARY);
}

export interface PerfShare {
  name: string;
  percent: number;
}

export interface PerfSummary {
  samples: number;
  /** CPU share (of all CPUs, idle included) by command name. */
  byCommand: PerfShare[];
}

export interface PerfRecording {
  /** Stops sampling, writes the report to `<base>.txt`, removes the raw data, returns the summary. */
  stop(): Promise<PerfSummary | undefined>;
}

/** Samples every CPU at 499 Hz until stop(); `base` is the path without extension. */
export async function startPerf(base: string): Promise<PerfRecording> {
  const data = `${base}.perf.data`;
  const child: ChildProcess = spawn(PERF_BINARY, ['record', '-a', '-F', '499', '-o', data, '--', 'sleep', '3600'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr?.on('data', (c: Buffer) => {
    errors += c.toString();
  });
  await sleep(300); // perf needs a moment to open its events
  return {
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGINT');
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 20_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      if (!existsSync(data)) {
        await writeFile(`${base}.txt`, `perf record failed:\n${errors}`);
        return undefined;
      }
      const byComm = await tryRun(PERF_BINARY, ['report', '-i', data, '--stdio', '--sort', 'comm', '--percent-limit', '0.5'], 120_000);
      const byThread = await tryRun(
        PERF_BINARY,
        ['report', '-i', data, '--stdio', '--sort', 'pid,comm', '--percent-limit', '0.5'],
        120_000,
      );
      await writeFile(`${base}.txt`, `# CPU share by command (all CPUs)\n${byComm}\n# CPU share by thread (tid:comm)\n${byThread}`);
      await rm(data, { force: true });
      await rm(`${data}.old`, { force: true });
      return { samples: perfSampleCount(byComm), byCommand: parsePerfShares(byComm) };
    },
  };
}

function perfSampleCount(report: string): number {
  const m = /# Samples: (\d+[KMG]?)/.exec(report);
  if (m === null) return 0;
  const text = m[1] as string;
  const scale = text.endsWith('K') ? 1e3 : text.endsWith('M') ? 1e6 : text.endsWith('G') ? 1e9 : 1;
  return Math.round(Number.parseFloat(text) * scale);
}

/** `    42.10%  containerd  ` lines of a `perf report --stdio` table. */
export function parsePerfShares(report: string): PerfShare[] {
  const out: PerfShare[] = [];
  for (const line of report.split('\n')) {
    const m = /^\s+(\d+\.\d+)%\s+(.+?)\s*$/.exec(line);
    if (m !== null) out.push({ name: m[2] as string, percent: Number(m[1]) });
  }
  return out;
}

// ---- V8 CPU profiles ----

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface CpuProfileSummary {
  /** Sampled time of the whole profile, ms. */
  totalMs: number;
  /** Self time by function (top entries), ms. */
  functions: { name: string; ms: number; percent: number }[];
  /** Self time by file (top entries), ms. */
  files: { name: string; ms: number; percent: number }[];
}

function shortUrl(url: string, repoRoot: string): string {
  if (url === '') return '(native)';
  const plain = url.startsWith('file://') ? url.slice('file://'.length) : url;
  if (plain.startsWith(`${repoRoot}/node_modules/`)) return plain.slice(repoRoot.length + 1).replace(/^node_modules\//, 'npm:');
  if (plain.startsWith(`${repoRoot}/`)) return plain.slice(repoRoot.length + 1);
  return plain;
}

/** Self time by function and by file of a .cpuprofile (time = hit count × mean sample interval). */
export function summarizeCpuProfile(profile: CpuProfile, repoRoot: string, top = 25): CpuProfileSummary {
  const totalHits = profile.nodes.reduce((sum, n) => sum + (n.hitCount ?? 0), 0);
  const totalMs = (profile.endTime - profile.startTime) / 1000;
  const msPerHit = totalHits > 0 ? totalMs / totalHits : 0;
  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const file = shortUrl(url, repoRoot);
    const name = url === '' ? `(${functionName || 'anonymous'})` : `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + hits);
    byFile.set(file, (byFile.get(file) ?? 0) + hits);
  }
  const rank = (map: Map<string, number>) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, hits]) => ({
        name,
        ms: Math.round(hits * msPerHit),
        percent: totalHits > 0 ? Math.round((hits / totalHits) * 1000) / 10 : 0,
      }));
  return { totalMs: Math.round(totalMs), functions: rank(byFunction), files: rank(byFile) };
}

/** Writes a profile summary as text: self time by function and by file. */
export function renderCpuProfileSummary(title: string, summary: CpuProfileSummary): string {
  return [
    `# ${title}: ${summary.totalMs} ms sampled on the daemon's main thread (idle included)`,
    '',
    '## self time by function',
    ...summary.functions.map((f) => `${String(f.ms).padStart(8)} ms ${f.percent.toFixed(1).padStart(5)} %  ${f.name}`),
    '',
    '## self time by file',
    ...summary.files.map((f) => `${String(f.ms).padStart(8)} ms ${f.percent.toFixed(1).padStart(5)} %  ${f.name}`),
    '',
  ].join('\n');
}

// ---- a profiler per runtime, started and stopped around each profiled workload ----

export interface ProfileSession {
  /** Stops the sampling; returns what the JSON keeps (the full reports go to files). */
  stop(): Promise<Record<string, unknown>>;
}

/** Starts profiling one workload (`label`: pod-start, exec, lists, pull). */
export type Profiler = (label: string) => Promise<ProfileSession>;

export interface ProfilerOptions {
  runtime: string;
  /** Where reports go: `<dir>/<runtime>-<label>.perf.txt`, `.cpuprofile`, `.cpu.txt`. */
  dir: string;
  repoRoot: string;
  /** The daemon's inspector (berth): V8 CPU profiles of its main thread per workload. */
  inspector?: () => Promise<InspectorClient>;
}

export function makeProfiler(options: ProfilerOptions): Profiler {
  return async (label) => {
    const base = path.join(options.dir, `${options.runtime}-${label}`);
    const perf = perfAvailable() ? await startPerf(`${base}.perf`) : undefined;
    const inspector = options.inspector !== undefined ? await options.inspector() : undefined;
    const cpu = inspector !== undefined ? await startCpuProfile(inspector) : undefined;
    return {
      async stop() {
        const out: Record<string, unknown> = {};
        if (cpu !== undefined) {
          const profile = (await cpu.stop()) as CpuProfile;
          await writeFile(`${base}.cpuprofile`, JSON.stringify(profile));
          const summary = summarizeCpuProfile(profile, options.repoRoot, 25);
          await writeFile(`${base}.cpu.txt`, renderCpuProfileSummary(`${options.runtime} daemon, ${label}`, summary));
          out.cpuProfile = { totalMs: summary.totalMs, functions: summary.functions.slice(0, 12), files: summary.files.slice(0, 8) };
        }
        const perfSummary = await perf?.stop();
        if (perfSummary !== undefined) out.perf = { samples: perfSummary.samples, byCommand: perfSummary.byCommand.slice(0, 15) };
        return out;
      },
    };
  };
}
