// One forwarded connection: the client's stream and a connection to the pod's port, joined both
// ways with half-close passed on (the client's FIN ends what the pod reads, the pod's FIN ends
// what the client reads), done when both directions are done or either side aborts.
import type { Duplex } from 'node:stream';

/**
 * Carries one client connection to a port of the pod until the exchange is over; rejects with the
 * message the client is to see on the connection's error stream.
 */
export type ConnectionForwarder = (port: number, client: Duplex, signal: AbortSignal) => Promise<void>;

/** Joins `client` and `conn`; resolves when the exchange is over. Never rejects. */
export function joinStreams(client: Duplex, conn: Duplex, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    let upDone = false;
    let downDone = false;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener('abort', abort);
      resolve();
    };
    const abort = (): void => {
      conn.destroy();
      client.destroy();
      finish();
    };
    const check = (): void => {
      if (upDone && downDone) {
        conn.destroy();
        finish();
      }
    };
    const pump = (from: Duplex, to: Duplex, done: () => void): void => {
      from.on('data', (chunk: Buffer) => {
        if (to.destroyed || to.writableEnded) return;
        if (!to.write(chunk)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
      from.once('end', () => {
        if (!to.destroyed && !to.writableEnded) to.end();
        done();
      });
    };
    pump(client, conn, () => {
      upDone = true;
      check();
    });
    pump(conn, client, () => {
      downDone = true;
      check();
    });
    // A reset or error on either side ends the exchange.
    conn.once('close', () => {
      if (!downDone) {
        downDone = true;
        if (!client.destroyed && !client.writableEnded) client.end();
      }
      if (!upDone) upDone = true;
      check();
    });
    client.once('close', () => {
      if (!(upDone && downDone)) abort();
    });
    if (signal?.aborted) abort();
    else signal?.addEventListener('abort', abort, { once: true });
  });
}
