// Port-forward over WebSocket, as the kubelet serves it: the ports come in the query
// (`?port=80&port=8080`); port i gets channel 2i for data (both ways) and 2i+1 for errors (server
// to client), and each channel starts with the port as a little-endian uint16. One connection per
// port; the WebSocket closes once all are over.
import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from '../../util/logger.ts';
import { WsChannelMux } from '../websocket/ws-channel-mux.ts';
import { type ChannelCodec, encodePortPrefix } from '../websocket/ws-channels.ts';
import type { ConnectionForwarder } from './forward.ts';

/** Subprotocols of the WebSocket port-forward (channel pairs per port). */
export const WS_PORT_FORWARD_PROTOCOLS: Record<string, ChannelCodec> = {
  'v4.channel.k8s.io': 'binary',
  'v4.base64.channel.k8s.io': 'base64',
  'portforward.k8s.io': 'binary',
};

/** The ports of `?port=…` (repeated or comma-separated); an error message when they are bad. */
export function parsePortQuery(values: string[]): number[] | string {
  if (values.length === 0) return 'query parameter "port" is required';
  const ports: number[] = [];
  for (const value of values) {
    if (value === '') return 'query parameter "port" cannot be empty';
    for (const p of value.split(',')) {
      if (!/^\d+$/.test(p) || Number(p) > 65535) return `unable to parse "${value}" as a port`;
      if (Number(p) < 1) return `port "${value}" must be > 0`;
      ports.push(Number(p));
    }
  }
  return ports;
}

export async function servePortForwardWs(
  ws: WebSocket,
  protocol: string,
  ports: number[],
  forwardConnection: ConnectionForwarder,
  idleTimeoutMs: number,
  log: Logger,
): Promise<void> {
  const codec = WS_PORT_FORWARD_PROTOCOLS[protocol] ?? 'binary';
  const mux = new WsChannelMux(ws, { codec, closeSignals: false, idleTimeoutMs, readChannels: ports.map((_, i) => 2 * i) });
  await Promise.all(
    ports.map(async (port, i) => {
      const data = 2 * i;
      const error = 2 * i + 1;
      await mux.send(data, encodePortPrefix(port)).catch(() => {});
      await mux.send(error, encodePortPrefix(port)).catch(() => {});
      const client = Duplex.from({ readable: mux.reader(data), writable: mux.writer(data) });
      client.on('error', () => {});
      try {
        await forwardConnection(port, client, mux.disconnected);
      } catch (e) {
        const message = (e as Error).message;
        log.debug({ port, err: message }, 'port-forward connection failed');
        await mux.send(error, Buffer.from(message)).catch(() => {});
      }
    }),
  );
  await mux.close();
}
