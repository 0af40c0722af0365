// SPDY/3 header compression: each direction of a session is one zlib stream primed with the
// SPDY/3 dictionary; every header block is compressed with a sync flush so that the peer can
// decompress it on its own, and the context carries on to the next block. Blocks must therefore be
// compressed, sent, received and decompressed in one order per direction: the codec serialises its
// calls itself.

import { constants, createDeflate, createInflate, type Deflate, type Inflate } from 'node:zlib';
import { unavailable } from '../../errors/errors.ts';
import { decodeHeaderBlock, encodeHeaderBlock, type SpdyHeaders, SpdyProtocolError } from './spdy-frames.ts';

function lengthPrefixed(names: string[]): Buffer {
  return Buffer.concat(
    names.map((n) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(n.length);
      return Buffer.concat([len, Buffer.from(n, 'latin1')]);
    }),
  );
}

/** The dictionary of the SPDY/3 specification (section 2.6.10.1): 1423 bytes. */
export const SPDY3_DICTIONARY: Buffer = Buffer.concat([
  lengthPrefixed(
    (
      'options head post put delete trace accept accept-charset accept-encoding accept-language accept-ranges age allow ' +
      'authorization cache-control connection content-base content-encoding content-language content-length content-location ' +
      'content-md5 content-range content-type date etag expect expires from host if-match if-modified-since if-none-match ' +
      'if-range if-unmodified-since last-modified location max-forwards pragma proxy-authenticate proxy-authorization range ' +
      'referer retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate method get ' +
      'status 200_OK version HTTP/1.1 url public set-cookie keep-alive origin'
    )
      .split(' ')
      .map((w) => w.replace('_', ' ')),
  ),
  Buffer.from(
    '100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505' +
      '203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 Forbidden' +
      '404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable' +
      'Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT' +
      'chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,' +
      'publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.',
    'latin1',
  ),
]);

/** Decompressed header blocks larger than this are refused (a zlib bomb would otherwise fill memory). */
const MAX_HEADER_BLOCK = 1024 * 1024;

type ZlibStream = Deflate | Inflate;

/**
 * Writes `input` with a sync flush and collects exactly the output that flush produced. The output
 * is read as it comes: zlib stalls (and the flush never completes) while its output is not read.
 */
function syncFlush(stream: ZlibStream, input: Buffer, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    const stop = (): void => {
      stream.off('readable', take);
      stream.off('error', fail);
    };
    const fail = (e: Error): void => {
      if (failed) return;
      failed = true;
      stop();
      reject(e);
    };
    function take(): void {
      for (let c = stream.read() as Buffer | null; c !== null && !failed; c = stream.read() as Buffer | null) {
        size += c.length;
        if (size > limit) fail(new SpdyProtocolError(`header block larger than ${limit} bytes`));
        else chunks.push(c);
      }
    }
    stream.on('readable', take);
    stream.once('error', fail);
    if (input.length > 0) stream.write(input);
    stream.flush(constants.Z_SYNC_FLUSH, () => {
      take();
      if (failed) return;
      stop();
      resolve(Buffer.concat(chunks, size));
    });
  });
}

export class HeaderCodec {
  readonly #deflate: Deflate;
  readonly #inflate: Inflate;
  #deflateTail: Promise<unknown> = Promise.resolve();
  #inflateTail: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor() {
    this.#deflate = createDeflate({ dictionary: SPDY3_DICTIONARY, level: constants.Z_DEFAULT_COMPRESSION });
    this.#inflate = createInflate({ dictionary: SPDY3_DICTIONARY });
    // Output is read explicitly after each flush; keep both in paused mode.
    this.#deflate.on('error', () => {});
    this.#inflate.on('error', () => {});
  }

  /** The compressed block for `headers`; blocks come out in the order of the calls. */
  compress(headers: SpdyHeaders): Promise<Buffer> {
    const raw = encodeHeaderBlock(headers);
    const run = this.#deflateTail.then(() => {
      if (this.#closed) throw unavailable('spdy-session-closed', 'header codec closed');
      return syncFlush(this.#deflate, raw, Number.POSITIVE_INFINITY);
    });
    this.#deflateTail = run.catch(() => {});
    return run;
  }

  /** The headers of a received compressed block; call in the order the blocks arrived. */
  decompress(block: Buffer, streamId = 0): Promise<SpdyHeaders> {
    const run = this.#inflateTail.then(async () => {
      if (this.#closed) throw unavailable('spdy-session-closed', 'header codec closed');
      let raw: Buffer;
      try {
        raw = await syncFlush(this.#inflate, block, MAX_HEADER_BLOCK);
      } catch (e) {
        if (e instanceof SpdyProtocolError) throw e;
        throw new SpdyProtocolError(`cannot decompress header block: ${(e as Error).message}`, streamId);
      }
      return decodeHeaderBlock(raw, streamId);
    });
    this.#inflateTail = run.catch(() => {});
    return run;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#deflate.destroy();
    this.#inflate.destroy();
  }
}
