// The port-forward relay and its client, in-process over a pair of pipes (the same code runs inside
// a pod's network namespace in production), against real TCP servers on loopback.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { joinStreams } from '../port-forward/forward.ts';
import { runRelay } from './netns-relay.ts';
import { RelayClient } from './port-dialer.ts';

let echoPort = 0;
let closedPort = 0;
const servers: net.Server[] = [];

before(async () => {
  const echo = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  echoPort = (echo.address() as net.AddressInfo).port;
  servers.push(echo);
  const probe = net.createServer().listen(0, '127.0.0.1');
  await once(probe, 'listening');
  closedPort = (probe.address() as net.AddressInfo).port;
  probe.close();
});
after(() => {
  for (const s of servers) s.close();
});

function relayPair(): { client: RelayClient; stop: () => Promise<void> } {
  const toRelay = new PassThrough();
  const fromRelay = new PassThrough();
  const running = runRelay(toRelay, fromRelay);
  const client = new RelayClient(toRelay, fromRelay);
  return {
    client,
    stop: async () => {
      await client.shutdown();
      await running;
    },
  };
}

function drain(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
  });
}

describe('port-forward relay', () => {
  test('many connections at once, each intact, with half-close passed on', async () => {
    const { client, stop } = relayPair();
    const blobs = Array.from({ length: 6 }, (_, i) => randomBytes(300_000 + i * 1000));
    const results = await Promise.all(
      blobs.map(async (blob) => {
        const conn = await client.open(echoPort);
        const back = drain(conn);
        conn.end(blob);
        return back;
      }),
    );
    results.forEach((r, i) => {
      assert.ok(r.equals(blobs[i]!), `connection ${i}`);
    });
    await stop();
  });

  test('a slow reader holds its sender back through the window, others go on', async () => {
    const { client, stop } = relayPair();
    const slow = await client.open(echoPort);
    slow.pause();
    const blob = randomBytes(4 * 1024 * 1024);
    let accepted = 0;
    for (let off = 0; off < blob.length; off += 64 * 1024) {
      if (!slow.write(blob.subarray(off, off + 64 * 1024))) break;
      accepted += 64 * 1024;
    }
    const fast = await client.open(echoPort);
    const fastBack = drain(fast);
    fast.end('quick');
    assert.equal((await fastBack).toString(), 'quick');
    assert.ok(accepted < blob.length, 'the slow connection did not take everything at once');
    slow.destroy();
    await stop();
  });

  test('a closed port is refused with the reason', async () => {
    const { client, stop } = relayPair();
    await assert.rejects(client.open(closedPort), new RegExp(`failed to connect to localhost:${closedPort}: .*ECONNREFUSED`));
    await stop();
  });

  test('shutting the relay down ends its connections', async () => {
    const { client, stop } = relayPair();
    const conn = await client.open(echoPort);
    const closed = once(conn, 'close');
    await stop();
    await closed;
    await assert.rejects(client.open(echoPort));
  });
});

describe('joinStreams', () => {
  test('ends when both sides are done; an abort tears both down', async () => {
    const a = new PassThrough();
    const b = new PassThrough();
    const ac = new AbortController();
    const joined = joinStreams(a, b, ac.signal);
    ac.abort();
    await joined;
    assert.ok(a.destroyed && b.destroyed);
  });
});
