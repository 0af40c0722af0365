// Docker's multiplexed stream (exec and attach without a terminal): frames of an 8-byte header
// (stream type, 3 zero bytes, payload length big-endian) and the payload. Split here into stdout
// and stderr as two Readables; the source is paused while either is full, so a slow client slows
// the process down instead of filling memory.
import type { Readable } from 'node:stream';
import { Readable as ReadableStream } from 'node:stream';

const HEADER = 8;
/** Type 0 (stdin echoed) goes with stdout, as Docker's own client does; 3 is the engine's error text. */
const STDERR_TYPES = new Set([2, 3]);

export interface DemuxedStreams {
  stdout: Readable;
  stderr: Readable;
}

export function demuxDockerStream(source: Readable): DemuxedStreams {
  const full = new Set<Readable>();
  const reading = (s: Readable): void => {
    full.delete(s);
    if (full.size === 0 && source.isPaused()) source.resume();
  };
  const stdout: ReadableStream = new ReadableStream({ read: () => reading(stdout) });
  const stderr: ReadableStream = new ReadableStream({ read: () => reading(stderr) });
  // A stream the client stopped reading holds nothing back.
  stdout.once('close', () => reading(stdout));
  stderr.once('close', () => reading(stderr));
  const header = Buffer.alloc(HEADER);
  let headerFill = 0;
  let left = 0;
  let target: ReadableStream = stdout;

  const push = (to: ReadableStream, piece: Buffer): void => {
    if (to.destroyed) return; // the client did not want it any more: drop
    if (!to.push(piece)) {
      full.add(to);
      source.pause();
    }
  };

  source.on('data', (chunk: Buffer) => {
    let off = 0;
    while (off < chunk.length) {
      if (left === 0) {
        const n = Math.min(HEADER - headerFill, chunk.length - off);
        chunk.copy(header, headerFill, off, off + n);
        headerFill += n;
        off += n;
        if (headerFill < HEADER) return;
        headerFill = 0;
        target = STDERR_TYPES.has(header[0]!) ? stderr : stdout;
        left = header.readUInt32BE(4);
        continue;
      }
      const piece = chunk.subarray(off, off + Math.min(left, chunk.length - off));
      off += piece.length;
      left -= piece.length;
      push(target, piece);
    }
  });
  let ended = false;
  const end = (): void => {
    if (ended) return;
    ended = true;
    for (const s of [stdout, stderr]) if (!s.destroyed) s.push(null);
  };
  source.once('end', end);
  source.once('close', end);
  source.once('error', end);
  return { stdout, stderr };
}
