// Port-forward over SPDY (portforward.k8s.io): for each connection the client opens a pair of
// streams, `error` and `data`, both with the `port` and `requestID` headers. Once both are there
// the data stream is joined to the port inside the pod; a failure is written as text on the error
// stream. Both streams are closed when the connection is over. The session lasts until the
// client closes it (or it idles out).
import type { Logger } from '../../util/logger.ts';
import { STREAM_CREATION_TIMEOUT_MS, StreamType } from '../remote-command.ts';
import { endStream } from '../remote-command-spdy.ts';
import { RstStatus } from '../spdy/spdy-frames.ts';
import type { SpdySession } from '../spdy/spdy-session.ts';
import type { SpdyStream } from '../spdy/spdy-stream.ts';
import type { ConnectionForwarder } from './forward.ts';

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** Serves port-forward requests on `session` until it closes. */
export function servePortForwardSpdy(
  session: SpdySession,
  forwardConnection: ConnectionForwarder,
  log: Logger,
  creationTimeoutMs = STREAM_CREATION_TIMEOUT_MS,
): Promise<void> {
  const pairs = new Map<string, Pair>();
  const abort = new AbortController();
  const running = new Set<Promise<void>>();

  const forward = async (requestId: string, port: number, data: SpdyStream, error: SpdyStream): Promise<void> => {
    error.resume();
    try {
      log.debug({ port, requestId }, 'port-forward connection');
      await forwardConnection(port, data, abort.signal);
    } catch (e) {
      const message = (e as Error).message;
      log.debug({ port, requestId, err: message }, 'port-forward connection failed');
      if (!error.destroyed) error.write(message);
    } finally {
      await Promise.all([endStream(data), endStream(error)]);
    }
  };

  const onStream = (stream: SpdyStream): void => {
    const portText = stream.header('port') ?? '';
    const port = Number(portText);
    const type = stream.header('streamType');
    if (!/^\d+$/.test(portText) || port < 1 || port > 65535 || (type !== StreamType.data && type !== StreamType.error)) {
      log.debug({ port: portText, type }, 'refusing a port-forward stream with bad headers');
      stream.reset(RstStatus.PROTOCOL_ERROR);
      return;
    }
    stream.reply();
    // Clients before request IDs: pair streams by their (consecutive) IDs, as the kubelet does.
    const requestId = stream.header('requestID') ?? String(type === StreamType.error ? stream.id : stream.id - 2);
    let pair = pairs.get(requestId);
    if (!pair) {
      const timer = setTimeout(() => {
        const p = pairs.get(requestId);
        pairs.delete(requestId);
        if (p?.error && !p.error.destroyed) p.error.end(`timed out waiting for streams of request ${requestId}`);
        p?.data?.reset(RstStatus.CANCEL);
      }, creationTimeoutMs);
      timer.unref();
      pair = { timer };
      pairs.set(requestId, pair);
    }
    const slot = type === StreamType.data ? 'data' : 'error';
    if (pair[slot]) {
      stream.end(`error processing stream for request ${requestId}: ${slot} stream already assigned`);
      return;
    }
    pair[slot] = stream;
    if (pair.data && pair.error) {
      clearTimeout(pair.timer);
      pairs.delete(requestId);
      const job = forward(requestId, port, pair.data, pair.error);
      running.add(job);
      void job.finally(() => running.delete(job));
    }
  };

  session.on('stream', onStream);
  return new Promise((resolve) => {
    const finish = (): void => {
      session.off('stream', onStream);
      abort.abort();
      for (const p of pairs.values()) clearTimeout(p.timer);
      pairs.clear();
      void Promise.allSettled([...running]).then(() => resolve());
    };
    if (session.closed) finish();
    else session.once('close', finish);
  });
}
