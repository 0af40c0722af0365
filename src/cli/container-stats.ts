// `berth stats`: the table crictl 1.26 prints from two ListContainerStats samples — CPU % is the
// CPU time used between them over the time between their timestamps.
import type { ContainerStats } from '../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument } from '../errors/errors.ts';
import { humanSize, truncateId } from './output/human.ts';
import { tabTable } from './output/tabwriter.ts';

/** go-units' default precision, which crictl stats prints with. */
const STATS_SIZE_PRECISION = 4;

/** By container ID, as crictl sorts them. */
export function byId(stats: ContainerStats[]): ContainerStats[] {
  return [...stats].sort((a, b) => {
    const x = a.attributes?.id ?? '';
    const y = b.attributes?.id ?? '';
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/**
 * Rows of CONTAINER, NAME, CPU %, MEM, DISK, INODES. Without `all`, containers with neither CPU
 * time nor memory (not running) are left out; a container missing from the first sample too.
 */
export function statsTable(first: ContainerStats[], second: ContainerStats[], options: { all?: boolean } = {}): string {
  const old = new Map(first.map((s) => [s.attributes?.id ?? '', s]));
  const rows = [['CONTAINER', 'NAME', 'CPU %', 'MEM', 'DISK', 'INODES']];
  for (const s of byId(second)) {
    const id = s.attributes?.id ?? '';
    const cpu = s.cpu?.usageCoreNanoSeconds?.value ?? 0n;
    const mem = s.memory?.workingSetBytes?.value ?? 0n;
    const disk = s.writableLayer?.usedBytes?.value ?? 0n;
    const inodes = s.writableLayer?.inodesUsed?.value ?? 0n;
    if (!options.all && cpu === 0n && mem === 0n) continue;
    const before = old.get(id);
    if (before === undefined) continue;
    let cpuPercent = 0;
    if (cpu !== 0n) {
      const duration = (s.cpu?.timestamp ?? 0n) - (before.cpu?.timestamp ?? 0n);
      if (duration === 0n) throw invalidArgument('stats-not-updated', 'cpu stat is not updated during sample');
      cpuPercent = (Number(cpu - (before.cpu?.usageCoreNanoSeconds?.value ?? 0n)) / Number(duration)) * 100;
    }
    rows.push([
      truncateId(id),
      s.attributes?.metadata?.name ?? '',
      cpuPercent.toFixed(2),
      humanSize(Number(mem), STATS_SIZE_PRECISION),
      humanSize(Number(disk), STATS_SIZE_PRECISION),
      inodes.toString(),
    ]);
  }
  return tabTable(rows);
}
