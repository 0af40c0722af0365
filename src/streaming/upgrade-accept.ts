// The server side of an HTTP upgrade to SPDY/3.1 or a WebSocket, as the kubelet's streaming
// server answers it: protocol negotiation, refusals with the kubelet's status and text, the 101.
// Shared by the daemon's streaming server and the node agent's API.
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { negotiateProtocol } from './remote-command.ts';

export function httpError(socket: Duplex, status: number, message: string, headers: Record<string, string[]> = {}): void {
  const body = Buffer.from(`${message}\n`);
  const extra = Object.entries(headers)
    .flatMap(([k, vs]) => vs.map((v) => `${k}: ${v}\r\n`))
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n${extra}\r\n${body.toString('utf8')}`,
  );
}

export function headerList(req: http.IncomingMessage, name: string): string[] {
  const v = req.headersDistinct[name.toLowerCase()];
  return v ?? [];
}

export function isWebSocket(req: http.IncomingMessage): boolean {
  return (req.headers.upgrade ?? '').toLowerCase() === 'websocket' && /(^|,)\s*upgrade\s*($|,)/i.test(req.headers.connection ?? '');
}

export function isSpdy(req: http.IncomingMessage): boolean {
  return /^spdy\/3\.1$/i.test((req.headers.upgrade ?? '').trim()) && /(^|,)\s*upgrade\s*($|,)/i.test(req.headers.connection ?? '');
}

export function wsOffers(req: http.IncomingMessage): string[] {
  return (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
}

/** The offered SPDY subprotocol the server speaks; without one, answers 403 (with the versions it accepts) and gives undefined. */
export function spdyProtocolOrRefuse(socket: Duplex, offers: readonly string[], serverProtocols: readonly string[]): string | undefined {
  const protocol = negotiateProtocol(offers, serverProtocols);
  if (protocol === undefined) {
    httpError(
      socket,
      403,
      `unable to upgrade: unable to negotiate protocol: client supports [${offers.join(' ')}], server accepts [${serverProtocols.join(' ')}]`,
      { 'X-Accepted-Stream-Protocol-Versions': [...serverProtocols] },
    );
  }
  return protocol;
}

/** Answers 101 with the agreed subprotocol: the socket speaks SPDY/3.1 from here on. */
export function switchToSpdy(socket: Duplex, head: Buffer, protocol: string): void {
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: ${protocol}\r\n\r\n`,
  );
  if (head.length > 0) socket.unshift(head);
}

/** The first offered WebSocket subprotocol in `supported` ('' when none is offered); else answers 400 and gives undefined. */
export function wsProtocolOrRefuse(req: http.IncomingMessage, socket: Duplex, supported: Record<string, unknown>): string | undefined {
  const offers = wsOffers(req);
  const protocol = offers.length === 0 ? '' : offers.find((p) => p in supported);
  if (protocol === undefined) {
    httpError(
      socket,
      400,
      `unable to upgrade: requested protocol(s) are not supported: [${offers.join(' ')}]; supports [${Object.keys(supported).join(' ')}]`,
    );
  }
  return protocol;
}
