// berth dockershim (bin/berth of this checkout) on a private Docker Engine (docker-engine.ts), with
// a config equal in effect to the other runtimes': REGISTRY_HOST mirrored to the loopback registry
// (the dockershim pulls from the mirror through the engine and tags under the asked name), the
// same CNI conflist on the runtime's own bridge and subnet, the same sandbox image. The engine
// runs Debian's runc as it is: the dockershim itself raises a negative oom_score_adj to what this
// host allows, as containerd's restrict_oom_score_adj does.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BERTH_BIN, CNI_BIN_DIR } from './berth.ts';
import { spawnDaemon } from './daemon-process.ts';
import { startBenchDockerd } from './docker-engine.ts';
import { REGISTRY_HOST, type RuntimeFootprint, type RuntimeUnderTest, runtimeUnderTest, writeCniConfig } from './runtime-under-test.ts';

export interface DockershimSettings {
  footprint: RuntimeFootprint;
  /** `http://127.0.0.1:PORT`: the mirror of REGISTRY_HOST. */
  registryUrl: string;
  sandboxImage: string;
}

export function dockershimConfig(o: {
  dockerHost: string;
  socket: string;
  root: string;
  registryUrl: string;
  cniConfDir: string;
  sandboxImage: string;
}): string {
  const q = JSON.stringify;
  return `# written by bench/dockershim.ts: equal in effect to the containerd and berth configs beside it
sandbox_image = ${q(o.sandboxImage)}
log_level = "info"

[registries.${q(REGISTRY_HOST)}]
mirrors = [${q(o.registryUrl)}]

[cni]
conf_dir = ${q(o.cniConfDir)}
bin_dirs = [${q(CNI_BIN_DIR)}]

[dockershim]
docker_host = ${q(o.dockerHost)}
socket = ${q(o.socket)}
root = ${q(o.root)}
`;
}

export async function startDockershim(settings: DockershimSettings): Promise<RuntimeUnderTest> {
  const { footprint } = settings;
  const dir = footprint.dir;
  await mkdir(path.join(dir, 'tmp'), { recursive: true });
  const cniConfDir = await writeCniConfig(footprint);
  const engine = await startBenchDockerd({ footprint });
  try {
    const socket = path.join(dir, 'run', 'dockershim.sock');
    const configPath = path.join(dir, 'dockershim.toml');
    await writeFile(
      configPath,
      dockershimConfig({
        dockerHost: engine.host,
        socket,
        root: path.join(dir, 'shim'),
        registryUrl: settings.registryUrl,
        cniConfDir,
        sandboxImage: settings.sandboxImage,
      }),
    );
    const daemon = await spawnDaemon({
      name: 'berth dockershim',
      command: BERTH_BIN,
      args: ['dockershim', '--config', configPath],
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', TMPDIR: path.join(dir, 'tmp') },
      cwd: dir,
      socket,
    });
    return runtimeUnderTest(footprint, daemon, { afterStop: engine.stop, moreDaemonPids: engine.enginePids });
  } catch (e) {
    await engine.stop();
    throw e;
  }
}
