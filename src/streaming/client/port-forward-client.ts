// The client side of port-forward over SPDY (portforward.k8s.io), as client-go's PortForwarder
// does it: local listeners; for each accepted connection a pair of streams (error, data) with the
// remote port and a request ID; bytes both ways; what the server writes on the error stream is the
// reason a connection failed.

import { once } from 'node:events';
import type http from 'node:http';
import net from 'node:net';
import { unavailable } from '../../errors/errors.ts';
import { joinStreams } from '../port-forward/forward.ts';
import { PORT_FORWARD_PROTOCOL, StreamType } from '../remote-command.ts';
import { SpdySession } from '../spdy/spdy-session.ts';
import { upgradeToSpdy } from './http-upgrade.ts';

export interface ForwardedPort {
  local: number;
  remote: number;
}

export interface PortForwardClientOptions {
  /** Local addresses to listen on. Default: 127.0.0.1 and ::1 (where available). */
  addresses?: string[];
  onListening?: (address: string, port: ForwardedPort) => void;
  onConnection?: (port: ForwardedPort) => void;
  /** A forwarded connection failed; `message` is the server's. */
  onError?: (port: ForwardedPort, message: string) => void;
  /** The connection's agent (a unix socket, client certificates); absent: a plain connection. */
  agent?: http.Agent;
}

export interface PortForwarding {
  /** The ports as bound (a local port 0 becomes the port the system picked). */
  readonly ports: ForwardedPort[];
  /** Settles when the session to the server is over. */
  readonly done: Promise<void>;
  close(): Promise<void>;
}

export async function forwardPorts(url: string, ports: ForwardedPort[], options: PortForwardClientOptions = {}): Promise<PortForwarding> {
  const { socket } = await upgradeToSpdy(url, [PORT_FORWARD_PROTOCOL], options.agent ? { agent: options.agent } : {});
  const session = new SpdySession(socket, { role: 'client' });
  const servers: net.Server[] = [];
  const conns = new Set<net.Socket>();
  let requestId = 0;
  const bound: ForwardedPort[] = [];

  const handle = async (conn: net.Socket, port: ForwardedPort): Promise<void> => {
    conns.add(conn);
    conn.once('close', () => conns.delete(conn));
    options.onConnection?.(port);
    const id = String(requestId++);
    const headers = { streamtype: [StreamType.error], port: [String(port.remote)], requestid: [id] };
    try {
      const error = session.openStream(headers);
      const data = session.openStream({ ...headers, streamtype: [StreamType.data] });
      await Promise.all([error.replied, data.replied]);
      // Nothing is sent on the error stream.
      error.end();
      const parts: Buffer[] = [];
      error.on('data', (d: Buffer) => parts.push(d));
      const errorDone = new Promise<void>((resolve) => {
        error.once('end', () => resolve());
        error.once('close', () => resolve());
      });
      await joinStreams(conn, data);
      await errorDone;
      const message = Buffer.concat(parts).toString('utf8');
      if (message !== '') options.onError?.(port, message);
    } catch (e) {
      options.onError?.(port, (e as Error).message);
      conn.destroy();
    }
  };

  try {
    const addresses = options.addresses ?? ['127.0.0.1', '::1'];
    for (const port of ports) {
      let local = port.local;
      let listened = 0;
      for (const address of addresses) {
        const server = net.createServer({ allowHalfOpen: true }, (c) => void handle(c, { local, remote: port.remote }));
        server.listen(local, address);
        try {
          await Promise.race([once(server, 'listening'), once(server, 'error').then(([e]) => Promise.reject(e))]);
        } catch (e) {
          // ::1 may not exist; any other address failing is an error.
          if (address === '::1' && addresses.length > 1 && listened > 0) continue;
          throw unavailable('port-forward-listen-failed', `unable to listen on ${address}:${local}: ${(e as Error).message}`);
        }
        local = (server.address() as net.AddressInfo).port;
        listened++;
        servers.push(server);
        options.onListening?.(address, { local, remote: port.remote });
      }
      bound.push({ local, remote: port.remote });
    }
  } catch (e) {
    for (const s of servers) s.close();
    session.destroy();
    throw e;
  }

  const done = new Promise<void>((resolve) => {
    if (session.closed) resolve();
    else session.once('close', () => resolve());
  });
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      for (const s of servers) s.close();
      for (const c of conns) c.destroy();
      await session.close();
      session.destroy();
    })();
    return closing;
  };
  void done.then(() => {
    for (const s of servers) s.close();
    for (const c of conns) c.destroy();
  });
  return { ports: bound, done, close };
}
