// berth daemon (bin/berth of this checkout) with a temporary config: root, state and socket in
// the runtime's directory, the registry mirror and the CNI conflist that containerd gets too.
// When profiling, the daemon runs with --inspect on a loopback port (see inspector.ts).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseConfig } from '../src/config/config.ts';
import { isBerthError } from '../src/errors/errors.ts';
import { spawnDaemon } from './daemon-process.ts';
import { REGISTRY_HOST, type RuntimeFootprint, type RuntimeUnderTest, runtimeUnderTest, writeCniConfig } from './runtime-under-test.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
export const BERTH_BIN = path.join(REPO_ROOT, 'bin', 'berth');
export const CNI_BIN_DIR = '/usr/lib/cni';

export interface BerthSettings {
  footprint: RuntimeFootprint;
  /** `http://127.0.0.1:PORT`: the mirror of REGISTRY_HOST. */
  registryUrl: string;
  /** The image of a pod's infra container (the one containerd gets as sandbox_image). */
  sandboxImage: string;
  /** When set, the daemon's inspector listens on this loopback port (for CPU profiles per workload). */
  inspectPort?: number;
}

export interface BerthConfigInput {
  dir: string;
  socket: string;
  registryUrl: string;
  cniConfDir: string;
  /** The infra container's image (containerd's sandbox_image). */
  sandboxImage: string;
  /** Top-level keys to leave out (an older berth refuses keys it does not know). */
  omit?: ReadonlySet<string>;
}

/** Top-level keys that match containerd's settings but that an older berth may not know yet. */
const OPTIONAL_KEYS = ['sandbox_image', 'cgroup_driver', 'default_runtime'] as const;

export function berthConfig(o: BerthConfigInput): string {
  const q = JSON.stringify;
  const optional: Record<(typeof OPTIONAL_KEYS)[number], string> = {
    sandbox_image: q(o.sandboxImage),
    cgroup_driver: q('cgroupfs'),
    default_runtime: q('runc'),
  };
  const extra = OPTIONAL_KEYS.filter((key) => !o.omit?.has(key)).map((key) => `${key} = ${optional[key]}\n`);
  return `# written by bench/berth.ts: equal in effect to the containerd config beside it
root = ${q(`${o.dir}/root`)}
state = ${q(`${o.dir}/state`)}
socket = ${q(o.socket)}
log_level = "info"
${extra.join('')}
[image]
max_concurrent_downloads = 3

[registries.${q(REGISTRY_HOST)}]
mirrors = [${q(o.registryUrl)}]

[cni]
conf_dir = ${q(o.cniConfDir)}
bin_dirs = [${q(CNI_BIN_DIR)}]
`;
}

/** The config with the optional keys that this checkout's config schema knows (checked with its own parser). */
export function fittingConfig(input: BerthConfigInput): string {
  const omit = new Set<string>();
  for (;;) {
    const text = berthConfig({ ...input, omit });
    try {
      parseConfig(text, 'bench berth config');
      return text;
    } catch (e) {
      const key = isBerthError(e) ? e.fields.key : undefined;
      if (typeof key !== 'string' || !(OPTIONAL_KEYS as readonly string[]).includes(key) || omit.has(key)) throw e;
      omit.add(key);
    }
  }
}

export async function startBerth(settings: BerthSettings): Promise<RuntimeUnderTest> {
  const { footprint } = settings;
  const dir = footprint.dir;
  await mkdir(path.join(dir, 'tmp'), { recursive: true });
  // The socket sits in a directory of its own: the daemon makes that directory 0700.
  const socket = path.join(dir, 'run', 'berth.sock');
  const cniConfDir = await writeCniConfig(footprint);
  const configPath = path.join(dir, 'berth.toml');
  await writeFile(
    configPath,
    fittingConfig({ dir, socket, registryUrl: settings.registryUrl, cniConfDir, sandboxImage: settings.sandboxImage }),
  );
  const env: NodeJS.ProcessEnv = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    TMPDIR: path.join(dir, 'tmp'),
  };
  if (settings.inspectPort !== undefined) env.NODE_OPTIONS = `--inspect=127.0.0.1:${settings.inspectPort}`;
  const daemon = await spawnDaemon({
    name: 'berth',
    command: BERTH_BIN,
    args: ['daemon', '--config', configPath],
    env,
    cwd: dir,
    socket,
  });
  return runtimeUnderTest(footprint, daemon);
}
