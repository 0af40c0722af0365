// Which compression a layer blob uses, from its media type and from its first bytes.
import { pipeline, Readable } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { invalidArgument } from '../errors/errors.ts';
import { nextOrAbort } from '../util/abortable.ts';

export type LayerCompression = 'none' | 'gzip' | 'zstd';

/**
 * The compression a media type announces; undefined when the type says nothing we know (then the
 * magic bytes decide). Types that cannot be unpacked here (encrypted, bzip2, xz) are refused.
 */
export function compressionOfMediaType(mediaType: string | undefined): LayerCompression | undefined {
  if (mediaType === undefined || mediaType === '') return undefined;
  const mt = mediaType.toLowerCase().split(';')[0]!.trim();
  if (/[+.](encrypted)$|\+encrypted\b/.test(mt) || /[+.](bzip2|xz)$/.test(mt)) {
    throw invalidArgument('unsupported-layer-media-type', `layer media type ${mediaType} is not supported`, {
      fields: { mediaType },
    });
  }
  if (/[+.]gzip$|\.tar\.gz$/.test(mt)) return 'gzip';
  if (/[+.]zstd$/.test(mt)) return 'zstd';
  if (/[.+]tar$/.test(mt)) return 'none';
  return undefined;
}

/** The compression the first bytes show ('none' when they are no known compressed format). */
export function compressionOfMagic(head: Uint8Array): LayerCompression {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  // A zstd skippable frame: magic 0x184D2A50..5F, little-endian.
  if (head.length >= 4 && (head[0]! & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) return 'zstd';
  if (head.length >= 6 && Buffer.from(head.subarray(0, 6)).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) {
    throw invalidArgument('unsupported-layer-compression', 'layer is xz-compressed, which is not supported');
  }
  if (head.length >= 3 && head[0] === 0x42 && head[1] === 0x5a && head[2] === 0x68) {
    throw invalidArgument('unsupported-layer-compression', 'layer is bzip2-compressed, which is not supported');
  }
  return 'none';
}

export interface DecompressedLayer {
  /** The uncompressed tar bytes. */
  stream: AsyncIterable<Uint8Array>;
  compression: LayerCompression;
  /** Set when the media type and the bytes disagree (the bytes win, as containerd decides). */
  warning?: string;
  /** Stops everything (source included); safe to call at any time. */
  destroy(): void;
}

/**
 * Looks at the first bytes of `source` and returns the uncompressed stream. The media type says
 * what to expect; the magic bytes have the last word, since registries do serve mislabelled layers.
 */
export async function decompressLayer(
  source: AsyncIterable<Uint8Array>,
  mediaType: string | undefined,
  signal?: AbortSignal,
): Promise<DecompressedLayer> {
  const expected = compressionOfMediaType(mediaType);
  const it = source[Symbol.asyncIterator]();
  const head: Buffer[] = [];
  let headLength = 0;
  let ended = false;
  while (headLength < 6) {
    const r = await nextOrAbort(it, signal);
    if (r.done) {
      ended = true;
      break;
    }
    head.push(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength));
    headLength += r.value.byteLength;
  }
  const first = Buffer.concat(head);
  const actual = headLength === 0 ? (expected ?? 'none') : compressionOfMagic(first);
  const warning =
    expected !== undefined && headLength > 0 && expected !== actual
      ? `layer media type ${mediaType} says ${expected} but the data is ${actual === 'none' ? 'uncompressed' : actual}`
      : undefined;
  async function* whole(): AsyncGenerator<Uint8Array> {
    if (first.length > 0) yield first;
    if (ended) return;
    for (;;) {
      const r = await nextOrAbort(it, signal);
      if (r.done) return;
      yield r.value;
    }
  }
  const release = (): void => {
    try {
      const r = it.return?.();
      if (r !== undefined) Promise.resolve(r).catch(() => {});
    } catch {
      // nothing to release
    }
  };
  if (actual === 'none' || headLength === 0) {
    const result: DecompressedLayer = { stream: whole(), compression: 'none', destroy: release };
    if (warning !== undefined) result.warning = warning;
    return result;
  }
  const input = Readable.from(whole(), { objectMode: false });
  const z = actual === 'gzip' ? createGunzip() : createZstdDecompress();
  // Errors of either side end up in `z`, whose iteration then throws them.
  pipeline(input, z, () => {});
  async function* checked(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of z) yield chunk as Buffer;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ZSTD_') || code === 'ERR_ZLIB_INITIALIZATION_FAILED')) {
        throw invalidArgument('layer-bad-compression', `layer ${actual} data is corrupt: ${(e as Error).message}`, {
          cause: e,
          fields: { compression: actual },
        });
      }
      throw e;
    }
  }
  const result: DecompressedLayer = {
    stream: checked(),
    compression: actual,
    destroy: () => {
      z.destroy();
      input.destroy();
      release();
    },
  };
  if (warning !== undefined) result.warning = warning;
  return result;
}
