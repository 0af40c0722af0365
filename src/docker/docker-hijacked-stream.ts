// A hijacked engine connection (exec start, container attach) as a process's stdio: the output
// raw with a terminal and multiplexed without, the input with a half-close for its end.
import { PassThrough, type Readable, Writable } from 'node:stream';
import { demuxDockerStream } from './docker-stream-demux.ts';

export type HijackedSocket = Readable & NodeJS.ReadWriteStream;

export function hijackedOutput(socket: HijackedSocket, tty: boolean): { stdout: Readable; stderr?: Readable } {
  if (!tty) return demuxDockerStream(socket);
  const stdout = new PassThrough();
  socket.pipe(stdout);
  return { stdout };
}

/** Writes go to the connection; the end half-closes it, which the engine takes as the end of stdin. */
export function hijackedInput(socket: HijackedSocket): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (socket.destroyed) {
        cb();
        return;
      }
      socket.write(chunk, () => cb());
    },
    final(cb) {
      if (!socket.destroyed) socket.end();
      cb();
    },
  });
}

/** Settles when the engine closed the connection (or it was destroyed here). */
export function hijackedClosed(socket: HijackedSocket): Promise<void> {
  return new Promise((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
  });
}
