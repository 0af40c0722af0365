// Reproduces the figures of docs/VM.md: boot to agent ready, QEMU's RSS, the guest's memory, and
// QEMU's CPU while idle (host connected and not). Usage: node scripts/vm-measure.ts [BOOTS] [MEMORY_MIB]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guestFromDir, QemuVm } from '../src/runtime/vm/qemu.ts';

const boots = Number(process.argv[2] ?? 3);
const memoryMiB = Number(process.argv[3] ?? 128);

const rssKiB = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
// utime + stime in clock ticks (100 per second on Linux).
const cpuTicks = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
};
const cpuPercent = async (pid: number, seconds: number): Promise<number> => {
  const before = cpuTicks(pid);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return (cpuTicks(pid) - before) / seconds;
};

for (let i = 0; i < boots; i++) {
  const dir = mkdtempSync(join(tmpdir(), 'berth-vm-measure-'));
  let vm: QemuVm | undefined;
  try {
    vm = await QemuVm.start({ stateDir: join(dir, 'vm'), shareDir: dir, guest: guestFromDir(), memoryMiB });
    const { uptimeSeconds } = await vm.agent.info();
    const free = (await vm.agent.exec(['free', '-m'])).stdout.toString().split('\n')[1]?.trim();
    const line = [
      `boot ${i + 1}: accel=${vm.accel}`,
      `ready after ${vm.bootMs} ms (guest uptime ${uptimeSeconds} s)`,
      `QEMU RSS ${Math.round(rssKiB(vm.pid) / 1024)} MiB`,
      `guest ${free}`,
    ];
    if (i === 0) {
      line.push(`CPU idle connected ${await cpuPercent(vm.pid, 5)} %`);
      vm.agent.disconnect();
      line.push(`disconnected ${await cpuPercent(vm.pid, 5)} %`);
    }
    console.log(line.join('; '));
  } finally {
    await vm?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
