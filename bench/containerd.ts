// containerd (Debian's package) with a temporary config equal in effect to berth's: the same
// registry mirror, the same CNI conflist (its own bridge and subnet), runc with cgroupfs,
// restrict_oom_score_adj, three concurrent layer downloads, overlayfs. Root, state, socket, runc
// root, CNI config and IPAM data all live in the runtime's directory.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { spawnDaemon } from './daemon-process.ts';
import { REGISTRY_HOST, type RuntimeFootprint, type RuntimeUnderTest, runtimeUnderTest, writeCniConfig } from './runtime-under-test.ts';

export const CONTAINERD_BINARY = '/usr/bin/containerd';
export const RUNC_BINARY = '/usr/sbin/runc';
export const CNI_BIN_DIR = '/usr/lib/cni';

export interface ContainerdSettings {
  footprint: RuntimeFootprint;
  /** `http://127.0.0.1:PORT`: the mirror of REGISTRY_HOST. */
  registryUrl: string;
  /** The image containerd runs as each pod's sandbox (pause) container. */
  sandboxImage: string;
}

export function containerdConfig(o: {
  dir: string;
  socket: string;
  registryUrl: string;
  sandboxImage: string;
  cniConfDir: string;
}): string {
  const q = JSON.stringify;
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `# written by bench/containerd.ts: equal in effect to the berth config beside it
version = 2
root = ${q(`${o.dir}/root`)}
state = ${q(`${o.dir}/state`)}
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = ${q(o.socket)}

[ttrpc]
  address = ${q(`${o.socket}.ttrpc`)}

[debug]
  level = "info"

[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = ${q(`${o.dir}/opt`)}

  [${cri}]
    sandbox_image = ${q(o.sandboxImage)}
    restrict_oom_score_adj = true
    max_concurrent_downloads = 3
    enable_selinux = false
    disable_apparmor = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"

    [${cri}.containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"

      [${cri}.containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [${cri}.containerd.runtimes.runc.options]
          BinaryName = ${q(RUNC_BINARY)}
          Root = ${q(`${o.dir}/runc`)}
          SystemdCgroup = false

    [${cri}.cni]
      bin_dir = ${q(CNI_BIN_DIR)}
      conf_dir = ${q(o.cniConfDir)}
      max_conf_num = 1

    [${cri}.registry]
      [${cri}.registry.mirrors]
        [${cri}.registry.mirrors.${q(REGISTRY_HOST)}]
          endpoint = [${q(o.registryUrl)}]
`;
}

export async function startContainerd(settings: ContainerdSettings): Promise<RuntimeUnderTest> {
  const { footprint } = settings;
  const dir = footprint.dir;
  await mkdir(dir, { recursive: true });
  const socket = path.join(dir, 'containerd.sock');
  const cniConfDir = await writeCniConfig(footprint);
  const configPath = path.join(dir, 'containerd.toml');
  await writeFile(
    configPath,
    containerdConfig({ dir, socket, registryUrl: settings.registryUrl, sandboxImage: settings.sandboxImage, cniConfDir }),
  );
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', TMPDIR: dir };
  const daemon = await spawnDaemon({
    name: 'containerd',
    command: CONTAINERD_BINARY,
    args: ['--config', configPath],
    env,
    cwd: dir,
    socket,
  });
  return runtimeUnderTest(footprint, daemon);
}
