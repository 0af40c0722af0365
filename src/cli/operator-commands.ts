// The node operator's commands: install berth as a service, remove it, and check a node.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config/config.ts';
import { connectCri } from '../cri/cri-client.ts';
import { defineCommand } from './command.ts';
import { clockCheck, diskCheck, type Finding, kernelChecks, toolChecks } from './doctor-checks.ts';
import { CONFIG_FILE, DAEMON_UNIT, install, NODE_UNIT, uninstall } from './service-install.ts';

const BERTH_BIN = path.resolve(import.meta.dirname, '../../bin/berth');

const STAGING = {
  root: { type: 'string', value: 'DIR', help: 'write below this staging root, for packagers (default /)' },
  bin: { type: 'string', value: 'PATH', help: 'the berth the units run (default: this one)' },
} as const;

const installCommand = defineCommand({
  name: 'install',
  summary: 'Install berth as systemd services (daemon, node), a default config and /etc/crictl.yaml',
  flags: STAGING,
  async run({ flags: v }) {
    const report = await install({ root: v.root ?? '/', berthBin: v.bin ?? BERTH_BIN });
    for (const f of report.changed) console.log(`wrote ${f}`);
    for (const f of report.kept) console.log(`kept ${f} (already there)`);
    if ((v.root ?? '/') === '/') console.log(`next: systemctl daemon-reload && systemctl enable --now ${DAEMON_UNIT} ${NODE_UNIT}`);
    return 0;
  },
});

const uninstallCommand = defineCommand({
  name: 'uninstall',
  summary: 'Remove the files berth install wrote (an edited config, images and pods stay)',
  flags: STAGING,
  async run({ flags: v }) {
    if ((v.root ?? '/') === '/') console.log(`first: systemctl disable --now ${DAEMON_UNIT} ${NODE_UNIT}`);
    const report = await uninstall({ root: v.root ?? '/', berthBin: v.bin ?? BERTH_BIN });
    for (const f of report.changed) console.log(`removed ${f}`);
    for (const f of report.kept) console.log(`kept ${f} (changed since install)`);
    return 0;
  },
});

async function daemonCheck(socket: string): Promise<Finding> {
  const cri = connectCri(`unix://${socket}`);
  try {
    const v = await cri.runtime.version({}, { timeoutMs: 3000 });
    return { check: 'daemon', verdict: 'ok', detail: `${v.runtimeName} ${v.runtimeVersion} answers on ${socket}` };
  } catch {
    return { check: 'daemon', verdict: 'warn', detail: `nothing answers on ${socket} (systemctl start ${DAEMON_UNIT})` };
  } finally {
    cri.close();
  }
}

const MARKS = { ok: '✔', warn: '!', fail: '✘' } as const;

const doctorCommand = defineCommand({
  name: 'doctor',
  summary: 'Check this node: kernel features, runtimes, CNI, config, daemon, disk, clock',
  flags: {
    config: {
      type: 'string',
      short: 'c',
      value: 'FILE',
      help: 'the daemon config to check (default /etc/berth/config.toml, else the defaults)',
    },
  },
  async run({ flags: v }) {
    const file = v.config ?? (existsSync(CONFIG_FILE) ? CONFIG_FILE : undefined);
    const findings: Finding[] = [...(await kernelChecks())];
    let config: Awaited<ReturnType<typeof loadConfig>> | undefined;
    try {
      config = await loadConfig(file);
      findings.push({ check: 'config', verdict: 'ok', detail: file ?? 'no config file: the defaults' });
    } catch (e) {
      findings.push({ check: 'config', verdict: 'fail', detail: (e as Error).message });
    }
    if (config) findings.push(...(await toolChecks(config)), await diskCheck(config), await daemonCheck(config.socket));
    findings.push(await clockCheck());
    const width = Math.max(...findings.map((f) => f.check.length));
    for (const f of findings) console.log(`${MARKS[f.verdict]} ${f.check.padEnd(width)}  ${f.detail}`);
    const failed = findings.filter((f) => f.verdict === 'fail').length;
    const warned = findings.filter((f) => f.verdict === 'warn').length;
    console.log(`\n${failed} problem(s), ${warned} warning(s)`);
    return failed > 0 ? 1 : 0;
  },
});

export const operatorCommands = [installCommand, uninstallCommand, doctorCommand];
