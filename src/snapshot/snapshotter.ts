// Snapshots of filesystem trees, by role (after containerd's snapshots.Snapshotter).
export type SnapshotKind = 'active' | 'view' | 'committed';

export interface Mount {
  type: string; // "overlay" | "bind"
  source: string;
  options: string[];
}

export interface SnapshotInfo {
  key: string;
  kind: SnapshotKind;
  parent?: string;
  labels: Record<string, string>;
  created: number; // ms since epoch
}

export interface SnapshotUsage {
  bytes: number;
  inodes: number;
}

export interface Snapshotter {
  stat(key: string): Promise<SnapshotInfo | undefined>;
  /** An active (writable) snapshot on top of the committed `parent`; returns how to mount it. */
  prepare(key: string, parent: string | undefined, labels?: Record<string, string>): Promise<Mount[]>;
  /** A read-only view of the committed `parent`. */
  view(key: string, parent: string | undefined, labels?: Record<string, string>): Promise<Mount[]>;
  mounts(key: string): Promise<Mount[]>;
  /** Turns the active snapshot `key` into the committed snapshot `name`. */
  commit(name: string, key: string, labels?: Record<string, string>): Promise<void>;
  /** Fails with failed-precondition while the snapshot has children. Idempotent for unknown keys. */
  remove(key: string): Promise<void>;
  list(): Promise<SnapshotInfo[]>;
  usage(key: string): Promise<SnapshotUsage>;
  /** Removes active snapshots left behind by a killed daemon whose keys match `isStale`. */
  cleanup(isStale: (info: SnapshotInfo) => boolean): Promise<void>;
}
