// A content-addressed blob store on the local filesystem, laid out like containerd's:
//   <root>/blobs/<algorithm>/<hex>   verified blobs, read-only once renamed into place
//   <root>/ingest/<pid>-<random>     private temporary files of ingests in progress
import { createHash, randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { failedPrecondition, internal, invalidArgument, isBerthError, notFound, toBerthError } from '../errors/errors.ts';
import { type Digest, digestAlgorithm, digestHex, parseDigest } from '../oci/digest.ts';
import { closeIterator, nextOrAbort, raceAbort, throwIfAborted } from '../util/abortable.ts';
import { errnoCode } from '../util/errno.ts';
import { KeyedLock } from '../util/keyed-lock.ts';
import type { BlobInfo, ContentStore, IngestOptions } from './content-store.ts';

const ALGORITHMS = ['sha256', 'sha512'] as const;
const HEX_LENGTH: Record<(typeof ALGORITHMS)[number], number> = { sha256: 64, sha512: 128 };
const READ_CHUNK = 64 * 1024;

/** Makes a rename or a new file durable: fsyncs the directory that holds it. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, chunk: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await fh.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

export class FileContentStore implements ContentStore {
  readonly root: string;
  #ready: Promise<void> | undefined;
  readonly #lock = new KeyedLock();
  /** Names of temp files of ingests running in this process (cleanupIngests keeps them). */
  readonly #activeIngests = new Set<string>();

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /** Where the blob `digest` lives (whether or not it is present). */
  blobPath(digest: Digest): string {
    const d = parseDigest(digest);
    return path.join(this.root, 'blobs', digestAlgorithm(d), digestHex(d));
  }

  get #ingestDir(): string {
    return path.join(this.root, 'ingest');
  }

  #ensureDirs(): Promise<void> {
    this.#ready ??= (async () => {
      for (const alg of ALGORITHMS) await mkdir(path.join(this.root, 'blobs', alg), { recursive: true, mode: 0o755 });
      await mkdir(this.#ingestDir, { recursive: true, mode: 0o700 });
    })().catch((e: unknown) => {
      this.#ready = undefined;
      throw e;
    });
    return this.#ready;
  }

  async info(digest: Digest): Promise<BlobInfo | undefined> {
    const file = this.blobPath(digest);
    try {
      const st = await stat(file);
      return st.isFile() ? { digest, size: st.size } : undefined;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return undefined;
      throw toBerthError(e);
    }
  }

  async readBlob(digest: Digest, signal?: AbortSignal): Promise<Buffer> {
    const file = this.blobPath(digest);
    let data: Buffer;
    try {
      data = await readFile(file, { signal });
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw notFound('blob-not-found', `blob ${digest} not found`, { fields: { digest } });
      throw toBerthError(e);
    }
    // Small blobs (manifests, configs) are cheap to re-check; a flipped bit must not reach a caller.
    const actual = `${digestAlgorithm(digest)}:${createHash(digestAlgorithm(digest)).update(data).digest('hex')}`;
    if (actual !== digest) {
      throw internal('blob-corrupt', `blob ${digest} on disk has digest ${actual}`, { fields: { digest, actual } });
    }
    return data;
  }

  openRead(digest: Digest): Readable {
    const file = this.blobPath(digest);
    async function* chunks(): AsyncGenerator<Buffer> {
      let fh: FileHandle;
      try {
        fh = await open(file, 'r');
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') throw notFound('blob-not-found', `blob ${digest} not found`, { fields: { digest } });
        throw toBerthError(e);
      }
      try {
        for (;;) {
          const buffer = Buffer.allocUnsafe(READ_CHUNK);
          const { bytesRead } = await fh.read(buffer, 0, READ_CHUNK, null);
          if (bytesRead === 0) return;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await fh.close();
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  async ingest(expected: BlobInfo, source: AsyncIterable<Uint8Array>, options: IngestOptions = {}): Promise<void> {
    const { signal, onProgress } = options;
    const digest = parseDigest(expected.digest);
    if (!Number.isSafeInteger(expected.size) || expected.size < 0) {
      throw invalidArgument('bad-size', `invalid blob size ${expected.size}`, { fields: { digest, size: expected.size } });
    }
    const it = source[Symbol.asyncIterator]();
    try {
      throwIfAborted(signal);
      await raceAbort(this.#ensureDirs(), signal);
      // One ingest per digest at a time: a second caller waits, then finds the blob present.
      let started = false;
      const done = this.#lock.run(digest, async () => {
        throwIfAborted(signal);
        started = true;
        const present = await this.info(digest);
        if (present?.size === expected.size) return;
        await this.#write(digest, expected.size, it, signal, onProgress);
      });
      try {
        await raceAbort(done, signal);
      } catch (e) {
        // Aborted while writing: let the write remove its temp file before we report.
        if (started) await done.catch(() => {});
        throw e;
      }
    } catch (e) {
      throw toBerthError(e);
    } finally {
      // Whatever happened, we read no further: release the source (a no-op when it is exhausted).
      closeIterator(it);
    }
  }

  async #write(
    digest: Digest,
    size: number,
    it: AsyncIterator<Uint8Array>,
    signal: AbortSignal | undefined,
    onProgress: ((written: number) => void) | undefined,
  ): Promise<void> {
    const algorithm = digestAlgorithm(digest);
    const name = `${process.pid}-${randomBytes(8).toString('hex')}`;
    const tmp = path.join(this.#ingestDir, name);
    this.#activeIngests.add(name);
    let fh: FileHandle | undefined;
    try {
      fh = await open(tmp, 'wx', 0o644);
      const hash = createHash(algorithm);
      let written = 0;
      for (;;) {
        const next = await nextOrAbort(it, signal);
        if (next.done) break;
        const chunk = next.value;
        written += chunk.byteLength;
        if (written > size) {
          throw failedPrecondition('size-mismatch', `blob ${digest}: more than the expected ${size} bytes`, {
            fields: { digest, expected: size, actual: written },
          });
        }
        hash.update(chunk);
        await writeAll(fh, chunk);
        onProgress?.(written);
      }
      if (written !== size) {
        throw failedPrecondition('size-mismatch', `blob ${digest}: got ${written} bytes, expected ${size}`, {
          fields: { digest, expected: size, actual: written },
        });
      }
      const actual = `${algorithm}:${hash.digest('hex')}`;
      if (actual !== digest) {
        throw failedPrecondition('digest-mismatch', `blob ${digest}: content has digest ${actual}`, {
          fields: { digest, expected: digest, actual },
        });
      }
      await fh.sync();
      await fh.close();
      fh = undefined;
      const target = this.blobPath(digest);
      await rename(tmp, target);
      await syncDir(path.dirname(target));
    } catch (e) {
      await fh?.close().catch(() => {});
      await rm(tmp, { force: true }).catch(() => {});
      throw isBerthError(e) ? e : toBerthError(e);
    } finally {
      this.#activeIngests.delete(name);
    }
  }

  async list(): Promise<BlobInfo[]> {
    const out: BlobInfo[] = [];
    for (const alg of ALGORITHMS) {
      const dir = path.join(this.root, 'blobs', alg);
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue;
        throw toBerthError(e);
      }
      const hexRe = new RegExp(`^[a-f0-9]{${HEX_LENGTH[alg]}}$`);
      for (const name of names.sort()) {
        if (!hexRe.test(name)) continue;
        try {
          const st = await stat(path.join(dir, name));
          if (st.isFile()) out.push({ digest: `${alg}:${name}` as Digest, size: st.size });
        } catch (e) {
          if (errnoCode(e) !== 'ENOENT') throw toBerthError(e); // deleted meanwhile
        }
      }
    }
    return out;
  }

  /** Removes the blob; removing an absent blob is not an error. */
  async delete(digest: Digest): Promise<void> {
    const file = this.blobPath(digest);
    await this.#lock.run(digest, async () => {
      await rm(file, { force: true });
    });
  }

  /**
   * Removes temp files of ingests that no longer run: those of a dead process, and this process's
   * own that no ingest holds. Files of another live process (e.g. a CLI sharing the root) stay.
   */
  async cleanupIngests(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#ingestDir);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw toBerthError(e);
    }
    for (const name of names) {
      if (this.#activeIngests.has(name)) continue;
      const pid = Number(/^(\d+)-/.exec(name)?.[1]);
      if (Number.isSafeInteger(pid) && pid !== process.pid && pid > 0 && isProcessAlive(pid)) continue;
      await rm(path.join(this.#ingestDir, name), { recursive: true, force: true });
    }
  }
}
