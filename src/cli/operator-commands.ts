// The node operator's commands: install berth as a service, remove it, and check a node.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/config.ts';
import { connectCri } from '../cri/cri-client.ts';
import { invalidArgument } from '../errors/errors.ts';
import type { Command } from './command.ts';
import { clockCheck, diskCheck, type Finding, kernelChecks, toolChecks } from './doctor-checks.ts';
import { CONFIG_FILE, DAEMON_UNIT, install, NODE_UNIT, uninstall } from './service-install.ts';

const BERTH_BIN = path.resolve(import.meta.dirname, '../../bin/berth');

function flags<T extends Record<string, { type: 'string' | 'boolean' }>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, strict: true }).values;
  } catch (e) {
    throw invalidArgument('bad-flag', (e as Error).message);
  }
}

const installCommand: Command = {
  name: 'install',
  summary: 'Install berth as systemd services (daemon, node), a default config and /etc/crictl.yaml',
  usage: 'install [--root DIR (a staging root; default /)] [--bin PATH (the berth the units run)]',
  async run(argv) {
    const v = flags(argv, { root: { type: 'string' }, bin: { type: 'string' } });
    const report = await install({ root: v.root ?? '/', berthBin: v.bin ?? BERTH_BIN });
    for (const f of report.changed) console.log(`wrote ${f}`);
    for (const f of report.kept) console.log(`kept ${f} (already there)`);
    if ((v.root ?? '/') === '/') console.log(`next: systemctl daemon-reload && systemctl enable --now ${DAEMON_UNIT} ${NODE_UNIT}`);
    return 0;
  },
};

const uninstallCommand: Command = {
  name: 'uninstall',
  summary: 'Remove the files berth install wrote (an edited config, images and pods stay)',
  usage: 'uninstall [--root DIR] [--bin PATH]',
  async run(argv) {
    const v = flags(argv, { root: { type: 'string' }, bin: { type: 'string' } });
    if ((v.root ?? '/') === '/') console.log(`first: systemctl disable --now ${DAEMON_UNIT} ${NODE_UNIT}`);
    const report = await uninstall({ root: v.root ?? '/', berthBin: v.bin ?? BERTH_BIN });
    for (const f of report.changed) console.log(`removed ${f}`);
    for (const f of report.kept) console.log(`kept ${f} (changed since install)`);
    return 0;
  },
};

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

const doctorCommand: Command = {
  name: 'doctor',
  summary: 'Check this node: kernel features, runtimes, CNI, config, daemon, disk, clock',
  usage: 'doctor [--config FILE]',
  async run(argv) {
    const v = flags(argv, { config: { type: 'string' } });
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
};

export const operatorCommands: Command[] = [installCommand, uninstallCommand, doctorCommand];
