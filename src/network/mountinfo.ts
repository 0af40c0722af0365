// Reads /proc/self/mountinfo: which paths are mount points, and with what propagation.
import { readFile } from 'node:fs/promises';

export interface MountInfo {
  mountPoint: string;
  /** Optional fields: `shared:N`, `master:N`, `propagate_from:N`, `unbindable`. */
  tags: string[];
  fsType: string;
  /** For nsfs mounts, which namespace: `net:[4026532252]`. */
  root: string;
}

/** Mount point paths escape space, tab, newline and backslash as octal (\040). */
function unescapeOctal(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 10 || dash < 0) continue;
    out.push({
      root: unescapeOctal(fields[3]!),
      mountPoint: unescapeOctal(fields[4]!),
      tags: fields.slice(6, dash),
      fsType: fields[dash + 1]!,
    });
  }
  return out;
}

/** Every mount of this process's mount namespace, in the kernel's order (a mount stacked on another comes later). */
export async function readMountInfo(): Promise<MountInfo[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** How many mounts are stacked on each of `paths` (absolute, canonical). */
export async function mountCounts(paths: readonly string[]): Promise<Map<string, number>> {
  const wanted = new Set(paths);
  const counts = new Map<string, number>();
  for (const m of await readMountInfo()) {
    if (wanted.has(m.mountPoint)) counts.set(m.mountPoint, (counts.get(m.mountPoint) ?? 0) + 1);
  }
  return counts;
}
