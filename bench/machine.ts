// The machine the figures come from, read at run time.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { tryRun } from './host.ts';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  kernel: string;
  os: string;
  memoryMb: number;
  cgroups: 'v2' | 'hybrid' | 'v1';
  node: string;
  containerd: string;
  runc: string;
  conmon: string;
  cniPlugins: string;
  /** 1-minute load average when the run started and when it ended (other work on the machine shows here). */
  loadAverage: { start: number; end?: number };
}

async function firstLine(command: string, args: string[]): Promise<string> {
  return (await tryRun(command, args, 10_000)).split('\n')[0]?.trim() ?? '';
}

async function cgroupMode(): Promise<MachineInfo['cgroups']> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  const hasV1 = mountinfo.split('\n').some((line) => / - cgroup /.test(line));
  const hasV2 = mountinfo.split('\n').some((line) => / - cgroup2 /.test(line));
  if (hasV1 && hasV2) return 'hybrid';
  return hasV2 ? 'v2' : 'v1';
}

export async function readMachine(): Promise<MachineInfo> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const meminfo = await readFile('/proc/meminfo', 'utf8');
  const memKb = Number(/^MemTotal:\s+(\d+) kB/m.exec(meminfo)?.[1] ?? 0);
  const osRelease = existsSync('/etc/os-release') ? await readFile('/etc/os-release', 'utf8') : '';
  const prettyName = /^PRETTY_NAME="?([^"\n]+)"?$/m.exec(osRelease)?.[1] ?? os.type();
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
  const cni = await tryRun('dpkg-query', ['-W', '-f=${Version}', 'containernetworking-plugins'], 10_000);
  return {
    cpuModel,
    cores: os.availableParallelism(),
    kernel: os.release(),
    os: prettyName,
    memoryMb: Math.round(memKb / 1024),
    cgroups: await cgroupMode(),
    node: process.version,
    containerd: await firstLine('/usr/bin/containerd', ['--version']),
    runc: await firstLine('/usr/sbin/runc', ['--version']),
    conmon: await firstLine('/usr/bin/conmon', ['--version']),
    cniPlugins: cni.trim() === '' ? 'unknown' : `containernetworking-plugins ${cni.trim()}`,
    loadAverage: { start: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
  };
}
