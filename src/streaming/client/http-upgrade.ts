// The client side of an HTTP/1.1 upgrade to SPDY/3.1, as client-go's SPDY round tripper does it:
// `Connection: Upgrade`, `Upgrade: SPDY/3.1`, the subprotocols in X-Stream-Protocol-Version, and
// the server's choice back in the 101 response. TLS certificates of streaming servers are not
// verified (crictl and critest use an insecure transport for them, too).

import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { BerthError, deadlineExceeded } from '../../errors/errors.ts';

export interface UpgradeResult {
  socket: Socket;
  /** The subprotocol the server picked. */
  protocol: string;
}

/** The upgrade was refused: the server's status and its message. */
export class UpgradeError extends BerthError {
  readonly status: number;
  constructor(status: number, message: string) {
    super('unavailable', 'upgrade-refused', message, { fields: { status } });
    this.name = 'UpgradeError';
    this.status = status;
  }
}

export function upgradeToSpdy(
  url: string,
  protocols: readonly string[],
  options: { timeoutMs?: number; agent?: http.Agent } = {},
): Promise<UpgradeResult> {
  const u = new URL(url);
  const mod = u.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = mod.request(u, {
      method: 'POST',
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'SPDY/3.1',
        'X-Stream-Protocol-Version': [...protocols],
        'Content-Length': '0',
      },
      ...(u.protocol === 'https:' ? { rejectUnauthorized: false } : {}),
      ...(options.agent ? { agent: options.agent } : {}),
    });
    const timer = setTimeout(
      () => req.destroy(deadlineExceeded('upgrade-timeout', `no answer from ${u.host} within ${(options.timeoutMs ?? 30_000) / 1000} s`)),
      options.timeoutMs ?? 30_000,
    );
    req.once('upgrade', (res, socket, head) => {
      clearTimeout(timer);
      const protocol = String(res.headers['x-stream-protocol-version'] ?? '');
      if (head.length > 0) socket.unshift(head);
      resolve({ socket, protocol });
    });
    req.once('response', (res) => {
      clearTimeout(timer);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        if (body.length < 4096) body += d;
      });
      res.on('end', () =>
        reject(
          new UpgradeError(res.statusCode ?? 0, `unable to upgrade connection: ${body.trim() || res.statusMessage || res.statusCode}`),
        ),
      );
      res.on('error', () => reject(new UpgradeError(res.statusCode ?? 0, `unable to upgrade connection: ${res.statusCode}`)));
    });
    req.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end();
  });
}
