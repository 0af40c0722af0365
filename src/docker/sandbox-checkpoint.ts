// Sandbox checkpoints in cri-dockerd's layout (`<root>/sandbox/<sandbox id>`, JSON schema v1), the
// one state the dockershim keeps that Docker does not: what CNI DEL needs of a pod (its name and
// port mappings) after the sandbox container is gone. A node moving from cri-dockerd points
// `[dockershim] root` at /var/lib/cri-dockerd and keeps its pods' checkpoints.
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.ts';

export interface CheckpointPortMapping {
  protocol?: 'tcp' | 'udp' | 'sctp';
  container_port?: number;
  host_port?: number;
  host_ip?: string;
}

export interface SandboxCheckpoint {
  version: 'v1';
  name: string;
  namespace: string;
  data?: { port_mappings?: CheckpointPortMapping[]; host_network?: boolean };
  /**
   * cri-dockerd's is an FNV hash of Go's printout of `data`, which only Go can reproduce: berth
   * writes 0 and does not check it (a checkpoint is read only to undo a pod's network).
   */
  checksum: number;
}

const ID = /^[0-9a-f]{64}$/;

export class SandboxCheckpoints {
  readonly #dir: string;

  constructor(root: string) {
    this.#dir = path.join(root, 'sandbox');
  }

  #file(id: string): string {
    return path.join(this.#dir, id);
  }

  async write(id: string, checkpoint: Omit<SandboxCheckpoint, 'version' | 'checksum'>): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.#file(id), JSON.stringify({ version: 'v1', ...checkpoint, checksum: 0 }), 0o600);
  }

  /** The checkpoint, or undefined when there is none or it cannot be read (a corrupt one is ignored). */
  async read(id: string): Promise<SandboxCheckpoint | undefined> {
    if (!ID.test(id)) return undefined;
    try {
      const cp = JSON.parse(await readFile(this.#file(id), 'utf8')) as SandboxCheckpoint;
      return cp && typeof cp === 'object' && typeof cp.name === 'string' && typeof cp.namespace === 'string' ? cp : undefined;
    } catch {
      return undefined;
    }
  }

  async list(): Promise<string[]> {
    const names = await readdir(this.#dir).catch(() => [] as string[]);
    return names.filter((n) => ID.test(n));
  }

  async remove(id: string): Promise<void> {
    if (ID.test(id)) await rm(this.#file(id), { force: true });
  }
}
