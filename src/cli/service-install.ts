// `berth install` / `berth uninstall`: the files a node keeps berth running with — systemd units
// for the daemon and the node agent, a default config with every key commented, crictl's config
// pointing at berth. `root` is a staging directory (packagers' DESTDIR): files go below it, but
// what they say names the final paths. An operator's own config or crictl.yaml is never replaced.
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';

export interface InstallOptions {
  /** Staging root; "/" installs on this machine. */
  root: string;
  /** The berth executable the units run (final path). */
  berthBin: string;
}

export interface InstalledFile {
  /** Final path (below `root` on disk). */
  path: string;
  content: string;
  mode: number;
  /** Written only when absent: the operator may have edited it. */
  keepExisting: boolean;
}

/** Marks files berth wrote, so that uninstall removes only its own. */
const MARK = '# Written by berth install.';
const UNIT_DIR = '/etc/systemd/system';
export const DAEMON_UNIT = 'berth-daemon.service';
export const NODE_UNIT = 'berth-node.service';
export const CONFIG_FILE = '/etc/berth/config.toml';
export const MANIFEST_DIR = '/etc/berth/manifests';
export const SOCKET = '/run/berth/berth.sock';

// As containerd.service: KillMode=process so that a restart leaves the containers' monitors
// running; Delegate=yes so that systemd leaves the cgroups below the unit to the runtime; no
// limits on tasks and files; the OOM killer spares the daemon. Logs go to the journal, which
// rotates them itself.
function daemonUnit(bin: string): string {
  return `${MARK}
[Unit]
Description=berth daemon: the CRI container runtime
Documentation=file://${path.resolve(path.dirname(bin), '..', 'README.md')}
After=network-online.target local-fs.target
Wants=network-online.target

[Service]
Type=simple
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${bin} daemon --config ${CONFIG_FILE}
Restart=always
RestartSec=5
KillMode=process
Delegate=yes
OOMScoreAdjust=-999
LimitNOFILE=infinity
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity

[Install]
WantedBy=multi-user.target
`;
}

// As kubelet.service: after the runtime, restarted forever; the node agent's pods are the
// runtime's, so stopping the agent stops no container.
function nodeUnit(bin: string): string {
  return `${MARK}
[Unit]
Description=berth node: the node agent (kubelet)
Documentation=file://${path.resolve(path.dirname(bin), '..', 'README.md')}
After=network-online.target ${DAEMON_UNIT}
Wants=network-online.target ${DAEMON_UNIT}

[Service]
Type=simple
ExecStart=${bin} node --runtime-endpoint unix://${SOCKET} --manifests ${MANIFEST_DIR}
Restart=always
RestartSec=10
KillMode=process

[Install]
WantedBy=multi-user.target
`;
}

function crictlConfig(): string {
  return `${MARK}
runtime-endpoint: unix://${SOCKET}
image-endpoint: unix://${SOCKET}
timeout: 10
`;
}

export async function installFiles(bin: string): Promise<InstalledFile[]> {
  const config = await readFile(new URL('../config/default-config.toml', import.meta.url), 'utf8');
  return [
    { path: `${UNIT_DIR}/${DAEMON_UNIT}`, content: daemonUnit(bin), mode: 0o644, keepExisting: false },
    { path: `${UNIT_DIR}/${NODE_UNIT}`, content: nodeUnit(bin), mode: 0o644, keepExisting: false },
    { path: CONFIG_FILE, content: `${MARK}\n${config}`, mode: 0o644, keepExisting: true },
    { path: '/etc/crictl.yaml', content: crictlConfig(), mode: 0o644, keepExisting: true },
  ];
}

const below = (root: string, file: string) => path.join(root, file);
const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

export interface InstallReport {
  changed: string[];
  kept: string[];
}

export async function install(options: InstallOptions): Promise<InstallReport> {
  const report: InstallReport = { changed: [], kept: [] };
  for (const f of await installFiles(options.berthBin)) {
    const target = below(options.root, f.path);
    if (f.keepExisting && (await exists(target))) {
      report.kept.push(f.path);
      continue;
    }
    await mkdir(path.dirname(target), { recursive: true });
    await writeFileAtomic(target, f.content, f.mode);
    report.changed.push(f.path);
  }
  await mkdir(below(options.root, MANIFEST_DIR), { recursive: true });
  return report;
}

/** Removes the units and the files berth wrote and nobody changed; the config an operator edited stays, and so does all data. */
export async function uninstall(options: Pick<InstallOptions, 'root' | 'berthBin'>): Promise<InstallReport> {
  const report: InstallReport = { changed: [], kept: [] };
  for (const f of await installFiles(options.berthBin)) {
    const target = below(options.root, f.path);
    const text = await readFile(target, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    if (f.keepExisting && text !== f.content) {
      report.kept.push(f.path);
      continue;
    }
    await rm(target, { force: true });
    report.changed.push(f.path);
  }
  return report;
}
