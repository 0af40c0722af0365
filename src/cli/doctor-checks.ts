// `berth doctor`: what a node needs, checked one thing at a time and said in plain words. Each
// check reads the host through `HostPaths`, so that its verdicts can be tried on prepared trees.
import { execFile } from 'node:child_process';
import { access, constants, readdir, readFile, realpath, statfs } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../config/config.ts';

const run = promisify(execFile);

export type Verdict = 'ok' | 'warn' | 'fail';

export interface Finding {
  check: string;
  verdict: Verdict;
  detail: string;
}

export interface HostPaths {
  proc: string;
  sys: string;
  dev: string;
  run: string;
}

export const HOST: HostPaths = { proc: '/proc', sys: '/sys', dev: '/dev', run: '/run' };

const text = (file: string) =>
  readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => undefined,
  );
const present = (file: string, mode = constants.F_OK) =>
  access(file, mode).then(
    () => true,
    () => false,
  );

export async function kernelChecks(h: HostPaths = HOST): Promise<Finding[]> {
  const out: Finding[] = [];
  const filesystems = (await text(path.join(h.proc, 'filesystems'))) ?? '';
  out.push(
    /\toverlay$/m.test(filesystems)
      ? { check: 'overlayfs', verdict: 'ok', detail: 'in the kernel' }
      : {
          check: 'overlayfs',
          verdict: 'fail',
          detail: 'not in /proc/filesystems: images cannot be unpacked into snapshots (modprobe overlay)',
        },
  );
  const cg = path.join(h.sys, 'fs/cgroup');
  if (await present(path.join(cg, 'cgroup.controllers'))) out.push({ check: 'cgroups', verdict: 'ok', detail: 'v2 (unified)' });
  else if (await present(path.join(cg, 'unified/cgroup.controllers')))
    out.push({
      check: 'cgroups',
      verdict: 'warn',
      detail:
        'hybrid: v1 controllers with v2 at /sys/fs/cgroup/unified; Kubernetes is moving to v2 only (systemd.unified_cgroup_hierarchy=1)',
    });
  else if (await present(path.join(cg, 'memory')))
    out.push({
      check: 'cgroups',
      verdict: 'warn',
      detail: 'v1 only; Kubernetes is moving to v2 only (systemd.unified_cgroup_hierarchy=1)',
    });
  else out.push({ check: 'cgroups', verdict: 'fail', detail: 'no cgroup hierarchy mounted at /sys/fs/cgroup' });
  const apparmor = await text(path.join(h.sys, 'module/apparmor/parameters/enabled'));
  out.push(
    apparmor === 'Y'
      ? { check: 'AppArmor', verdict: 'ok', detail: 'enabled: containers get the berth-default profile' }
      : { check: 'AppArmor', verdict: 'warn', detail: 'off in this kernel: containers run without an AppArmor profile' },
  );
  const status = (await text(path.join(h.proc, 'self/status'))) ?? '';
  out.push(
    /^Seccomp:/m.test(status)
      ? { check: 'seccomp', verdict: 'ok', detail: 'available' }
      : { check: 'seccomp', verdict: 'fail', detail: 'the kernel has no seccomp: the runtime default profile cannot be applied' },
  );
  const userns = Number((await text(path.join(h.proc, 'sys/user/max_user_namespaces'))) ?? '0');
  out.push(
    userns > 0
      ? { check: 'user namespaces', verdict: 'ok', detail: `available (max_user_namespaces ${userns})` }
      : {
          check: 'user namespaces',
          verdict: 'warn',
          detail: 'off (max_user_namespaces is 0): pods asking for hostUsers: false cannot run',
        },
  );
  out.push(
    (await present(path.join(h.dev, 'kvm'), constants.R_OK | constants.W_OK))
      ? {
          check: 'KVM',
          verdict: 'ok',
          detail: '/dev/kvm is there (the vm handler tries it at start and falls back to emulation if it fails)',
        }
      : { check: 'KVM', verdict: 'warn', detail: 'no usable /dev/kvm: VM pods would run under software emulation (slow)' },
  );
  out.push(
    (await present(path.join(h.dev, 'vhost-vsock')))
      ? { check: 'vhost-vsock', verdict: 'ok', detail: '/dev/vhost-vsock is there' }
      : {
          check: 'vhost-vsock',
          verdict: 'warn',
          detail: 'no /dev/vhost-vsock (modprobe vhost_vsock): VM guests are reached over virtio-serial instead',
        },
  );
  return out;
}

/** `1.1.5` of "runc version 1.1.5+ds1"; undefined when the output names no version. */
export function versionOf(output: string): number[] | undefined {
  const m = /version (\d+)\.(\d+)\.(\d+)/.exec(output);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

const atLeast = (v: number[], min: number[]) => {
  for (let i = 0; i < min.length; i++) if (v[i] !== min[i]) return (v[i] ?? 0) > min[i]!;
  return true;
};

/** Debian backports security fixes without a new upstream version: the changelog of the package that owns `binary` names them. */
async function debianChangelogMentions(binary: string, cve: string): Promise<boolean> {
  try {
    const owner = await run('dpkg-query', ['-S', await realpath(binary)]);
    const pkg = owner.stdout.split(':')[0]!.trim();
    const { stdout } = await run('zcat', [`/usr/share/doc/${pkg}/changelog.Debian.gz`], { maxBuffer: 16 << 20 });
    return stdout.includes(cve);
  } catch {
    return false;
  }
}

async function toolVersion(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 10_000 });
    return stdout.split('\n')[0]!.trim();
  } catch {
    return undefined;
  }
}

export async function toolChecks(config: Config): Promise<Finding[]> {
  const out: Finding[] = [];
  for (const [name, { binary }] of Object.entries(config.runtimes)) {
    const line = await toolVersion(binary);
    if (line === undefined) {
      out.push({ check: `runtime ${name}`, verdict: name === config.default_runtime ? 'fail' : 'warn', detail: `${binary} does not run` });
      continue;
    }
    const v = versionOf(line);
    const isRunc = /^runc /.test(line);
    // CVE-2024-21626 (leaked fds, container escape) is fixed in runc 1.1.12.
    if (isRunc && v && !atLeast(v, [1, 1, 12]) && !(await debianChangelogMentions(binary, 'CVE-2024-21626'))) {
      out.push({
        check: `runtime ${name}`,
        verdict: 'fail',
        detail: `${line}: older than 1.1.12, open to CVE-2024-21626 (container escape); upgrade runc`,
      });
    } else out.push({ check: `runtime ${name}`, verdict: 'ok', detail: line });
  }
  const conmon = await toolVersion(config.conmon);
  out.push(
    conmon
      ? { check: 'conmon', verdict: 'ok', detail: conmon }
      : { check: 'conmon', verdict: 'fail', detail: `${config.conmon} does not run` },
  );
  out.push(await cniCheck(config));
  return out;
}

async function cniCheck(config: Config): Promise<Finding> {
  const names = (await readdir(config.cni.conf_dir).catch(() => [] as string[])).filter((n) => /\.(conflist|conf|json)$/.test(n)).sort();
  if (names.length === 0)
    return { check: 'CNI', verdict: 'fail', detail: `no network configuration in ${config.cni.conf_dir}: pods get no network` };
  const file = path.join(config.cni.conf_dir, names[0]!);
  let plugins: string[];
  try {
    const doc = JSON.parse(await readFile(file, 'utf8')) as { plugins?: { type?: string }[]; type?: string };
    plugins = (doc.plugins ?? [doc]).map((p) => p.type ?? '').filter(Boolean);
  } catch (e) {
    return { check: 'CNI', verdict: 'fail', detail: `${file} is not valid JSON: ${(e as Error).message}` };
  }
  const missing: string[] = [];
  for (const p of plugins) {
    const found = await Promise.all(config.cni.bin_dirs.map((d) => present(path.join(d, p), constants.X_OK)));
    if (!found.includes(true)) missing.push(p);
  }
  if (missing.length > 0)
    return {
      check: 'CNI',
      verdict: 'fail',
      detail: `${file} needs plugins not found in ${config.cni.bin_dirs.join(', ')}: ${missing.join(', ')}`,
    };
  return { check: 'CNI', verdict: 'ok', detail: `${file}: ${plugins.join(', ')}` };
}

/** The nearest existing directory of `dir` (the root may not exist before the first start). */
async function existingParent(dir: string): Promise<string> {
  let d = dir;
  while (d !== '/' && !(await present(d))) d = path.dirname(d);
  return d;
}

export async function diskCheck(config: Config): Promise<Finding> {
  const dir = await existingParent(config.root);
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  const total = fs.blocks * fs.bsize;
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
  const detail = `${gib(free)} free of ${gib(total)} on the filesystem of ${config.root}`;
  if (free < 2 ** 30) return { check: 'free space', verdict: 'fail', detail: `${detail}: pulls will fail` };
  // The kubelet's image GC starts at 85 % full by default.
  if (free / total < 0.15)
    return { check: 'free space', verdict: 'warn', detail: `${detail}: above the kubelet's image GC threshold (85 %)` };
  return { check: 'free space', verdict: 'ok', detail };
}

export async function clockCheck(h: HostPaths = HOST): Promise<Finding> {
  if (await present(path.join(h.run, 'systemd/timesync/synchronized')))
    return { check: 'clock', verdict: 'ok', detail: 'synchronised (systemd-timesyncd)' };
  const chrony = await run('chronyc', ['tracking'], { timeout: 5000 }).then(
    (r) => r.stdout,
    () => undefined,
  );
  if (chrony && /Leap status\s*:\s*Normal/.test(chrony)) return { check: 'clock', verdict: 'ok', detail: 'synchronised (chrony)' };
  return {
    check: 'clock',
    verdict: 'warn',
    detail: 'no time synchronisation seen (systemd-timesyncd or chrony): certificates and leases need a right clock',
  };
}
