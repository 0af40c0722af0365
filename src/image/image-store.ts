// The images the node has: records by image ID (the config digest), found by ID, ID prefix,
// tag or repo digest. Kept in memory, written through to the metadata store.
import type { Digest } from '../oci/digest.ts';
import { parseReference } from '../oci/reference.ts';
import type { MetadataStore } from '../store/metadata-store.ts';

export interface LayerRecord {
  digest: Digest;
  size: number;
  mediaType: string;
  diffId: Digest;
}

export interface ImageRecord {
  id: Digest;
  repoTags: string[];
  repoDigests: string[];
  /** The platform manifest the image was unpacked from. */
  manifest: { digest: Digest; mediaType: string; size: number };
  config: { digest: Digest; size: number };
  layers: LayerRecord[];
  /** Snapshot names (chainIDs) bottom to top. */
  chainIds: Digest[];
  /** Every blob kept for this image: indexes, manifest, config, layers. */
  contentRefs: Digest[];
  /** Compressed layers + config, as containerd reports. */
  size: number;
  pinned: boolean;
  pulledAt: number;
}

const HEX_RE = /^(?:sha256:)?([a-f0-9]{1,64})$/;

export class ImageStore {
  #meta: MetadataStore;
  #byId = new Map<string, ImageRecord>();

  constructor(meta: MetadataStore) {
    this.#meta = meta;
    for (const r of meta.list<ImageRecord>('image')) this.#byId.set(r.id, r);
  }

  list(): ImageRecord[] {
    return [...this.#byId.values()];
  }

  get(id: string): ImageRecord | undefined {
    return this.#byId.get(id);
  }

  /** By full ID, tag or repo digest (familiar or canonical), then by unique ID prefix. */
  resolve(refOrId: string): ImageRecord | undefined {
    const exact = this.#byId.get(refOrId) ?? this.#byId.get(`sha256:${refOrId}`);
    if (exact) return exact;
    let normalized: string | undefined;
    try {
      normalized = parseReference(refOrId).string();
    } catch {}
    if (normalized !== undefined) {
      for (const r of this.#byId.values()) if (r.repoTags.includes(normalized) || r.repoDigests.includes(normalized)) return r;
      // name:tag@digest: the digest decides
      const ref = parseReference(refOrId);
      if (ref.tag !== undefined && ref.digest !== undefined) {
        const byDigest = ref.withDigest(ref.digest).string();
        for (const r of this.#byId.values()) if (r.repoDigests.includes(byDigest)) return r;
      }
    }
    const m = HEX_RE.exec(refOrId);
    if (m) {
      const matches = [...this.#byId.keys()].filter((id) => id.startsWith(`sha256:${m[1]}`));
      if (matches.length === 1) return this.#byId.get(matches[0]!);
    }
    return undefined;
  }

  /**
   * Adds or merges an image; its tags move away from any other image that had them.
   * An image left without tags stays (listed as <none>), as in containerd.
   */
  put(record: ImageRecord): ImageRecord {
    return this.#meta.transaction(() => {
      for (const other of this.#byId.values()) {
        if (other.id === record.id) continue;
        const kept = other.repoTags.filter((t) => !record.repoTags.includes(t));
        if (kept.length !== other.repoTags.length) this.#write({ ...other, repoTags: kept });
      }
      const existing = this.#byId.get(record.id);
      const merged: ImageRecord = existing
        ? {
            ...record,
            repoTags: union(existing.repoTags, record.repoTags),
            repoDigests: union(existing.repoDigests, record.repoDigests),
            contentRefs: union(existing.contentRefs, record.contentRefs),
            pinned: existing.pinned || record.pinned,
          }
        : record;
      this.#write(merged);
      return merged;
    });
  }

  remove(id: string): void {
    this.#meta.delete('image', id);
    this.#byId.delete(id);
  }

  #write(record: ImageRecord): void {
    this.#meta.put('image', record.id, record);
    this.#byId.set(record.id, record);
  }
}

function union<T extends string>(a: readonly T[], b: readonly T[]): T[] {
  return [...new Set([...a, ...b])];
}
