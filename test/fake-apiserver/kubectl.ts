// The real kubectl (v1.35, taken out of its npm package by scripts/install-test-deps.sh) against
// a fake API server, with a kubeconfig and a discovery cache of its own.
import { execFile } from 'node:child_process';
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

/** Runs kubectl as the admin, or as node `node` when given. */
export async function kubectl(fake: FakeApiServer, args: string[], node?: string): Promise<KubectlResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-kubectl-'));
  try {
    const kubeconfig = path.join(dir, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfigYaml(node));
    return await new Promise((resolve) => {
      execFile(
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
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
