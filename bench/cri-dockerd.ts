// cri-dockerd (a binary built outside this repository, given by --cri-dockerd; never built or
// fetched here) on a private Docker Engine (docker-engine.ts), set up as the others are: the same
// CNI conflist on its own bridge and subnet, the same sandbox image, the engine's three concurrent
// downloads. Two differences it cannot avoid:
//   - Docker has registry mirrors for docker.io only, so cri-dockerd pulls REGISTRY_HOST from
//     itself, which does not exist: the workload and sandbox images are loaded into the engine from
//     the loopback registry beforehand (preloadImages), and its pull workload fails (null, noted).
//   - cri-dockerd asks oom_score_adj -998 for every sandbox, which runc cannot set on a host
//     without CAP_SYS_RESOURCE: the engine's default runtime is runc behind a wrapper that sends a
//     `create` whose spec asks a negative oom_score_adj through test/support/runc-host-fit.ts (the
//     spec fitted to the host, then the real runc) and every other runc call straight to runc, so
//     only a sandbox's create pays for the fitting (a Node.js start).
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CNI_BIN_DIR } from './berth.ts';
import { RUNC_BINARY } from './containerd.ts';
import { spawnDaemon } from './daemon-process.ts';
import { preloadImages, startBenchDockerd } from './docker-engine.ts';
import { REGISTRY_HOST, type RuntimeFootprint, type RuntimeUnderTest, runtimeUnderTest, writeCniConfig } from './runtime-under-test.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
/** A runc wrapper kept with the tests, referred to by path (not imported: it is a program of its own). */
export const RUNC_HOST_FIT = path.join(REPO_ROOT, 'test', 'support', 'runc-host-fit.ts');

export interface CriDockerdSettings {
  footprint: RuntimeFootprint;
  /** The cri-dockerd executable. */
  binary: string;
  /** `http://127.0.0.1:PORT`: the registry the images are loaded from. */
  registryUrl: string;
  sandboxImage: string;
  /** The images the pods run (loaded into the engine with the sandbox image). */
  workloadImage: string;
}

export const PRELOADED_NOTE =
  'Docker has registry mirrors for docker.io only, so cri-dockerd pulls registry.bench.test from that host itself, which does not exist: the workload and sandbox images were loaded into its engine from the loopback registry beforehand, and its PullImage has no figure';

/**
 * The runc the engine runs: a `create` whose bundle's spec asks a negative oom_score_adj (the
 * containerd shim writes it compact: `"oomScoreAdj":-998`) goes through runc-host-fit.ts, every
 * other call straight to runc.
 */
export function runcWrapper(node: string, script: string): string {
  return `#!/bin/sh
# written by bench/cri-dockerd.ts
case " $* " in
  *" create "*)
    bundle=. prev=
    for a in "$@"; do
      case "$prev" in --bundle | -b) bundle=$a ;; esac
      case "$a" in --bundle=*) bundle=\${a#--bundle=} ;; esac
      prev=$a
    done
    if grep -q '"oomScoreAdj":-' "$bundle/config.json" 2>/dev/null; then
      exec ${node} --disable-warning=ExperimentalWarning ${script} "$@"
    fi
    ;;
esac
exec ${RUNC_BINARY} "$@"
`;
}

export async function startCriDockerd(settings: CriDockerdSettings): Promise<RuntimeUnderTest> {
  const { footprint } = settings;
  const dir = footprint.dir;
  const cniConfDir = await writeCniConfig(footprint);
  const wrapper = path.join(dir, 'runc-host-fit');
  await writeFile(wrapper, runcWrapper(process.execPath, RUNC_HOST_FIT), { mode: 0o755 });
  const engine = await startBenchDockerd({ footprint, runtimes: { 'runc-host-fit': wrapper }, defaultRuntime: 'runc-host-fit' });
  try {
    await preloadImages(engine.docker, settings.registryUrl, REGISTRY_HOST, [settings.workloadImage, settings.sandboxImage]);
    const socket = path.join(dir, 'cri-dockerd.sock');
    const daemon = await spawnDaemon({
      name: 'cri-dockerd',
      command: settings.binary,
      // biome-ignore format: flag pairs
      args: [
        '--container-runtime-endpoint', `unix://${socket}`,
        '--docker-endpoint', engine.host,
        '--network-plugin', 'cni',
        '--cni-conf-dir', cniConfDir,
        '--cni-bin-dir', CNI_BIN_DIR,
        '--cni-cache-dir', path.join(dir, 'cni', 'cache'),
        '--cri-dockerd-root-directory', path.join(dir, 'cri-dockerd'),
        '--pod-infra-container-image', settings.sandboxImage,
        '--streaming-bind-addr', '127.0.0.1',
        '--log-level', 'info',
      ],
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', TMPDIR: dir },
      cwd: dir,
      socket,
    });
    return runtimeUnderTest(footprint, daemon, {
      afterStop: engine.stop,
      moreDaemonPids: engine.enginePids,
      preloadedImages: PRELOADED_NOTE,
    });
  } catch (e) {
    await engine.stop();
    throw e;
  }
}
