// Whether an OCI runtime can run containers on this host, found by running one: `/bin/true` in a
// bundle whose root is an empty directory with the host's /usr bound in. A runtime can be
// installed and still refuse the host (crun 1.8 refuses cgroups in hybrid mode), and announcing
// its handler would promise pods it cannot start.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

const PROBE_TIMEOUT_MS = 10_000;

export interface ProbeResult {
  ok: boolean;
  /** What the runtime said when it failed. */
  message?: string;
}

function run(binary: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: PROBE_TIMEOUT_MS }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, output: `${stderr}${stdout}`.trim() || (error?.message ?? '') });
    });
  });
}

/** Runs a trivial container with `binary` under `workDir` (left empty again). */
export async function probeOciRuntime(binary: string, workDir: string): Promise<ProbeResult> {
  await mkdir(workDir, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(path.join(workDir, 'probe-'));
  try {
    const rootfs = path.join(dir, 'rootfs');
    for (const d of ['usr', 'proc']) await mkdir(path.join(rootfs, d), { recursive: true });
    // Debian's merged /usr: /bin, /lib and /lib64 are links into it.
    for (const d of ['bin', 'lib', 'lib64']) await symlink(`usr/${d}`, path.join(rootfs, d));
    const config = {
      ociVersion: '1.0.2',
      process: { user: { uid: 0, gid: 0 }, args: ['/bin/true'], cwd: '/', env: ['PATH=/usr/bin:/bin'] },
      root: { path: 'rootfs', readonly: true },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/usr', type: 'bind', source: '/usr', options: ['rbind', 'ro'] },
      ],
      linux: { namespaces: [{ type: 'mount' }, { type: 'pid' }] },
    };
    await writeFile(path.join(dir, 'config.json'), JSON.stringify(config));
    const id = path.basename(dir);
    const r = await run(binary, ['--root', path.join(dir, 'state'), 'run', '--bundle', dir, id]);
    return r.code === 0 ? { ok: true } : { ok: false, message: r.output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
