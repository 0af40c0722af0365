// Bounds on what one layer may make the daemon read, keep in memory and write, so that a hostile
// layer (a decompression bomb, millions of entries, a flood of PAX records) fails its pull instead
// of filling the disk or the daemon's memory. The defaults are far above any real image.
import { statfs } from 'node:fs/promises';
import { invalidArgument, resourceExhausted } from '../errors/errors.ts';

export interface LayerLimits {
  /** Uncompressed bytes of one layer's tar. */
  maxLayerBytes: number;
  /** Entries (headers that make a file, directory, link, device or whiteout) in one layer. */
  maxEntries: number;
  /** Path components of one entry's name. */
  maxPathDepth: number;
  /** PAX records, GNU long names and so xattrs of one entry, in bytes, in total. */
  maxEntryMetadataBytes: number;
  /** Free bytes the image filesystem keeps: a layer that would go below fails. */
  minFreeBytes: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export const DEFAULT_LAYER_LIMITS: LayerLimits = {
  maxLayerBytes: 64 * GiB,
  maxEntries: 1_000_000,
  maxPathDepth: 128,
  maxEntryMetadataBytes: 1 * MiB, // Go's archive/tar refuses larger PAX headers, too
  minFreeBytes: 256 * MiB,
};

/** How many written bytes pass between two looks at the free space. */
const FREE_SPACE_CHECK_BYTES = 16 * MiB;

export function entryMetadataTooLarge(limit: number, name?: string) {
  return resourceExhausted(
    'layer-entry-metadata-too-large',
    `layer tar: the PAX records and long names of ${name === undefined ? 'one entry' : `entry "${name}"`} exceed ${limit} bytes`,
    { fields: { limit } },
  );
}

/** Counts what a layer's unpack consumes and fails it when a limit is crossed. */
export class LayerBudget {
  readonly limits: LayerLimits;
  readonly #fsPath: string;
  #bytes = 0;
  #entries = 0;
  #sinceFreeCheck = 0;

  constructor(limits: LayerLimits, fsPath: string) {
    this.limits = limits;
    this.#fsPath = fsPath;
  }

  /** Uncompressed tar bytes read. */
  read(n: number): void {
    this.#bytes += n;
    if (this.#bytes > this.limits.maxLayerBytes) {
      throw resourceExhausted('layer-too-large', `layer is larger than ${this.limits.maxLayerBytes} bytes uncompressed`, {
        fields: { limit: this.limits.maxLayerBytes },
      });
    }
  }

  entry(name: string, depth: number): void {
    if (++this.#entries > this.limits.maxEntries) {
      throw resourceExhausted('layer-too-many-entries', `layer has more than ${this.limits.maxEntries} entries`, {
        fields: { limit: this.limits.maxEntries },
      });
    }
    if (depth > this.limits.maxPathDepth) {
      throw invalidArgument(
        'layer-path-too-deep',
        `layer entry "${name.slice(0, 200)}…" is more than ${this.limits.maxPathDepth} levels deep`,
        {
          fields: { limit: this.limits.maxPathDepth },
        },
      );
    }
  }

  /** Bytes about to be written; looks at the free space every few MiB (and on the first call). */
  async written(n: number): Promise<void> {
    const first = this.#sinceFreeCheck === 0;
    this.#sinceFreeCheck += n;
    if (!first && this.#sinceFreeCheck < FREE_SPACE_CHECK_BYTES) return;
    this.#sinceFreeCheck = 1;
    await this.checkFreeSpace();
  }

  async checkFreeSpace(): Promise<void> {
    const s = await statfs(this.#fsPath);
    const free = s.bavail * s.bsize;
    if (free < this.limits.minFreeBytes) {
      throw resourceExhausted(
        'image-fs-reserve',
        `the image filesystem has ${free} bytes free, below the reserve of ${this.limits.minFreeBytes} bytes`,
        { fields: { free, reserve: this.limits.minFreeBytes } },
      );
    }
  }
}
