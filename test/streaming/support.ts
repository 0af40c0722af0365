// Shared by the streaming integration tests: what a streaming session may leave behind, and
// small clients that drive the protocols by hand (a raw WebSocket with the `ws` package, raw
// SPDY sessions from src/streaming/spdy).
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import type { TestDaemon } from '../support/daemon.ts';
import { pidsWithCmdline } from '../support/pod-fixtures.ts';

/** Exec session directories, exec conmons, attach relays and port-forward relays that are still there. */
export async function streamingLeftovers(daemon: TestDaemon): Promise<string[]> {
  const found: string[] = [];
  for (const f of await readdir(path.join(daemon.state, 'streaming')).catch(() => [] as string[])) found.push(`exec dir ${f}`);
  for (const pid of await pidsWithCmdline(path.join(daemon.state, 'streaming'))) found.push(`exec process ${pid}`);
  // Port-forward relays of this daemon's pods: other daemons (other test files) may run theirs.
  const podNetns = new Set<string>();
  for (const pod of await readdir(path.join(daemon.state, 'ns')).catch(() => [] as string[])) {
    const st = await stat(path.join(daemon.state, 'ns', pod, 'net')).catch(() => undefined);
    if (st) podNetns.add(`net:[${st.ino}]`);
  }
  for (const pid of await pidsWithCmdline('netns-relay-main.ts')) {
    const ns = await readlink(`/proc/${pid}/ns/net`).catch(() => '');
    const parent = (await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')).split(') ')[1]?.split(' ')[1];
    if (podNetns.has(ns) || parent === String(daemon.pid)) found.push(`port-forward relay ${pid}`);
  }
  // The attach relay runs in the container's bundle, under the daemon's state dir.
  for (const pid of await pidsWithCmdline('SOCK_SEQPACKET')) {
    const dir = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (dir.startsWith(daemon.state)) found.push(`attach relay ${pid} in ${dir}`);
  }
  return found;
}

export interface OpenedWebSocket {
  ws: WebSocket;
  /** The messages so far, as [channel, payload] (the array `done` resolves with, growing). */
  messages: [number, Buffer][];
  /** Every message until the server closes, as [channel, payload] (empty ones included), and the close code. */
  done: Promise<{ messages: [number, Buffer][]; code: number }>;
}

/**
 * A WebSocket opened on a streaming URL with `protocols`; rejects with the HTTP status when
 * refused. Messages are collected from the start: a server may send some together with its 101.
 */
export function openWebSocket(url: string, protocols: string[]): Promise<OpenedWebSocket> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'), protocols, { perMessageDeflate: false });
  const messages: [number, Buffer][] = [];
  ws.on('message', (data: Buffer) => messages.push([data[0]!, data.subarray(1)]));
  const done = new Promise<{ messages: [number, Buffer][]; code: number }>((resolve) => {
    ws.once('close', (code) => resolve({ messages, code }));
  });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, done }));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** The payloads of one channel, concatenated. */
export function channel(messages: [number, Buffer][], n: number): string {
  return Buffer.concat(messages.filter(([c]) => c === n).map(([, d]) => d)).toString('utf8');
}

/**
 * A POST to a streaming URL with `headers` (upgrade headers included): the status, headers and
 * body of the answer when it is not a 101 (which would be an error here).
 */
export function plainRequest(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', headers: { 'Content-Length': '0', ...headers } });
    req.once('upgrade', (_res, socket) => {
      socket.destroy();
      reject(new Error('the server upgraded the connection'));
    });
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.once('error', reject);
    req.end();
  });
}
