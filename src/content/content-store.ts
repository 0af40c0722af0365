// The content-addressed blob store, by role (after containerd's content.Store).
import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.ts';

export interface BlobInfo {
  digest: Digest;
  size: number;
}

export interface IngestOptions {
  signal?: AbortSignal;
  /** Called with the bytes written so far. */
  onProgress?: (written: number) => void;
}

export interface ContentProvider {
  info(digest: Digest): Promise<BlobInfo | undefined>;
  /** Whole blob in memory: for manifests and configs, never for layers. */
  readBlob(digest: Digest, signal?: AbortSignal): Promise<Buffer>;
  openRead(digest: Digest): Readable;
}

export interface ContentIngester {
  /**
   * Writes `source` into a private temporary file, checks its size and digest against `expected`,
   * then renames it into place. Nothing is visible under `expected.digest` unless it matched.
   * Throws failed-precondition code `digest-mismatch` / `size-mismatch` on bad content.
   */
  ingest(expected: BlobInfo, source: AsyncIterable<Uint8Array>, options?: IngestOptions): Promise<void>;
}

export interface ContentStore extends ContentProvider, ContentIngester {
  list(): Promise<BlobInfo[]>;
  delete(digest: Digest): Promise<void>;
  /** Removes temporary files that a killed daemon left half-written. */
  cleanupIngests(): Promise<void>;
}
