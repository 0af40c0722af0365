import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { text } from 'node:stream/consumers';
import { after, describe, test } from 'node:test';
import { encodeControlFrame, encodeDataFrame, GoAwayStatus, RstStatus } from './spdy-frames.ts';
import { SpdySession, type SpdySessionOptions } from './spdy-session.ts';
import type { SpdyStream } from './spdy-stream.ts';

const servers: net.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A client and a server session over a real loopback TCP connection. */
async function pair(
  serverOptions: Partial<SpdySessionOptions> = {},
  clientOptions: Partial<SpdySessionOptions> = {},
): Promise<{ client: SpdySession; server: SpdySession; clientSocket: net.Socket }> {
  const srv = net.createServer();
  servers.push(srv);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection');
  const clientSocket = net.connect((srv.address() as net.AddressInfo).port, '127.0.0.1');
  await once(clientSocket, 'connect');
  const [serverSocket] = (await accepted) as [net.Socket];
  srv.close();
  return {
    client: new SpdySession(clientSocket, { role: 'client', ...clientOptions }),
    server: new SpdySession(serverSocket, { role: 'server', ...serverOptions }),
    clientSocket,
  };
}

/** Resolves once the stream has emitted 'close' (at once if it has already). */
function closed(stream: SpdyStream): Promise<void> {
  return stream.closed ? Promise.resolve() : once(stream, 'close').then(() => {});
}

function nextStream(session: SpdySession): Promise<SpdyStream> {
  return once(session, 'stream').then(([s]) => s as SpdyStream);
}

describe('SpdySession', () => {
  test('a header block of 100 KiB arrives; one that inflates past 1 MiB ends the session with GOAWAY', async () => {
    const { client, server } = await pair();
    const incoming = nextStream(server);
    const big = 'x'.repeat(100 * 1024);
    client.openStream({ streamtype: ['data'], big: [big] });
    assert.equal((await incoming).header('big'), big);
    const goaway = once(client, 'goaway');
    const serverClosed = once(server, 'close');
    const refused = client.openStream({ streamtype: ['data'], padding: ['a'.repeat(4 * 1024 * 1024)] });
    refused.on('error', () => {});
    refused.replied.catch(() => {});
    assert.deepEqual(await goaway, [GoAwayStatus.PROTOCOL_ERROR]);
    const [error] = (await serverClosed) as [Error & { code?: string }];
    assert.equal(error.code, 'spdy-protocol-error');
    client.destroy();
  });

  test('a peer that floods PINGs and never reads the answers is no longer read from: the backlog stays bounded', async () => {
    const maxBufferedBytes = 256 * 1024;
    const { server, clientSocket } = await pair({ maxBufferedBytes });
    // The raw client never reads: the server's answers pile up unless it stops reading.
    clientSocket.pause();
    const pings: Buffer[] = [];
    for (let i = 0; i < 8192; i++) pings.push(encodeControlFrame({ type: 'ping', id: 2 * i + 1 }));
    const chunk = Buffer.concat(pings);
    let sent = 0;
    let worst = 0;
    // Stop once the client's own buffer backs up (the server stopped reading) or after 64 MiB.
    while (sent < 64 * 1024 * 1024 && clientSocket.writableLength < 8 * 1024 * 1024 && !server.closed) {
      clientSocket.write(chunk);
      sent += chunk.length;
      await new Promise(setImmediate);
      worst = Math.max(worst, server.bufferedBytes);
    }
    assert.ok(worst <= 2 * maxBufferedBytes, `the server buffered ${worst} bytes of answers`);
    assert.ok(sent < 64 * 1024 * 1024 || server.closed, 'the server read all of the flood');
    clientSocket.destroy();
    server.destroy();
  });

  test('a client stream is opened, replied to, carries data both ways and half-closes each way', async () => {
    const { client, server } = await pair();
    const incoming = nextStream(server);
    const stream = client.openStream({ streamtype: ['stdout'], port: ['80'] });
    assert.equal(stream.id, 1);
    const s = await incoming;
    assert.equal(s.id, 1);
    assert.equal(s.header('streamType'), 'stdout');
    assert.equal(s.header('port'), '80');
    s.reply();
    await stream.replied;

    stream.end('ping from client');
    assert.equal(await text(s), 'ping from client');
    s.end('pong from server');
    assert.equal(await text(stream), 'pong from server');
    await new Promise((r) => setImmediate(r));
    assert.equal(client.streamCount, 0);
    assert.equal(server.streamCount, 0);

    const second = client.openStream({ n: ['2'] });
    assert.equal(second.id, 3, 'client stream IDs are odd and increase');
    second.destroy();
    client.destroy();
    server.destroy();
  });

  test('a MiB each way arrives intact while the flow-control windows are enforced', async () => {
    // The client announces a small window (SETTINGS), so the server must wait for WINDOW_UPDATEs.
    const { client, server } = await pair({ receiveWindow: 16 * 1024 }, { receiveWindow: 16 * 1024 });
    const incoming = nextStream(server);
    const stream = client.openStream({ a: ['b'] });
    const s = await incoming;
    const up = randomBytes(1024 * 1024);
    const down = randomBytes(1024 * 1024);
    const collect = (r: SpdyStream): Promise<Buffer> =>
      new Promise((resolve) => {
        const parts: Buffer[] = [];
        r.on('data', (d: Buffer) => parts.push(d));
        r.on('end', () => resolve(Buffer.concat(parts)));
      });
    const atServer = collect(s);
    const atClient = collect(stream);
    stream.end(up);
    s.end(down);
    assert.ok((await atServer).equals(up));
    assert.ok((await atClient).equals(down));
    client.destroy();
    server.destroy();
  });

  test('between two sides that do flow control, a stream nobody reads holds up neither the other streams nor control frames', async () => {
    const { client, server } = await pair();
    const incoming = nextStream(server);
    const stalled = client.openStream({ n: ['stalled'] });
    const unread = await incoming;
    const next = nextStream(server);
    const live = client.openStream({ n: ['live'] });
    const echo = await next;
    echo.pipe(echo); // the server echoes the live stream
    const big = Buffer.alloc(1024 * 1024, 7);
    stalled.write(big); // only a window's worth can go: nothing reads it
    const data = randomBytes(512 * 1024);
    const parts: Buffer[] = [];
    live.on('data', (d: Buffer) => parts.push(d));
    live.end(data);
    await once(live, 'end');
    assert.ok(Buffer.concat(parts).equals(data), 'the live stream went both ways in full');
    assert.ok((await client.ping()) >= 0, 'a PING is answered');
    assert.ok(unread.readableLength <= 64 * 1024, `the unread stream holds ${unread.readableLength} bytes, at most its window`);
    // Reading releases the rest.
    let got = 0;
    unread.on('data', (d: Buffer) => (got += d.length));
    stalled.end();
    await once(unread, 'end');
    assert.equal(got, big.length);
    client.destroy();
    server.destroy();
  });

  test('a peer that shows flow control and then sends past a window gets the stream reset (FLOW_CONTROL_ERROR)', async () => {
    const { client, server, clientSocket } = await pair();
    const incoming = nextStream(server);
    const stream = client.openStream({});
    const s = await incoming;
    s.on('data', () => {}); // read or not, the window is the limit
    const reset = once(stream, 'reset');
    // Frames written straight to the socket, past the session's flow control: 128 KiB in a 64 KiB window.
    clientSocket.write(encodeDataFrame(stream.id, Buffer.alloc(128 * 1024), false));
    assert.deepEqual(await reset, [RstStatus.FLOW_CONTROL_ERROR]);
    await closed(s);
    assert.equal(server.streamCount, 0);
    client.destroy();
    server.destroy();
  });

  test('a reader that does not read holds the sender back (no unbounded buffering)', async () => {
    const { client, server } = await pair();
    const incoming = nextStream(server);
    const stream = client.openStream({});
    const s = await incoming;
    let written = 0;
    const chunk = Buffer.alloc(64 * 1024, 1);
    // Write until the stream says stop; nothing reads on the server side.
    for (let i = 0; i < 400; i++) {
      written += chunk.length;
      if (!stream.write(chunk)) break;
    }
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(written < 24 * 1024 * 1024, `the writer was stopped (${written} bytes written)`);
    assert.ok(s.readableLength < 8 * 1024 * 1024, `the server buffered ${s.readableLength} bytes`);
    // Reading releases everything.
    stream.end();
    let got = 0;
    s.on('data', (d: Buffer) => (got += d.length));
    await once(s, 'end');
    assert.equal(got, written);
    client.destroy();
    server.destroy();
  });

  test('a reset reaches the other side; data for it is dropped', async () => {
    const { client, server } = await pair();
    const incoming = nextStream(server);
    const stream = client.openStream({});
    const s = await incoming;
    const reset = once(s, 'reset');
    stream.reset(RstStatus.CANCEL);
    assert.deepEqual(await reset, [RstStatus.CANCEL]);
    await closed(s);
    assert.equal(server.streamCount, 0);
    client.destroy();
    server.destroy();
  });

  test('a stream refused by the peer rejects `replied`', async () => {
    const { client, server } = await pair();
    server.on('stream', (s) => s.reset(RstStatus.REFUSED_STREAM));
    const stream = client.openStream({});
    await assert.rejects(stream.replied, /reset by peer/);
    client.destroy();
    server.destroy();
  });

  test('PING is answered', async () => {
    const { client, server } = await pair();
    const ms = await client.ping();
    assert.ok(ms >= 0, 'the round trip is measured');
    assert.ok((await server.ping()) >= 0);
    client.destroy();
    server.destroy();
  });

  test('close() flushes FINs, resets open streams, sends GOAWAY and closes the connection', async () => {
    const { client, server, clientSocket } = await pair();
    const incoming = nextStream(server);
    const stdin = client.openStream({ streamtype: ['stdin'] });
    await incoming;
    const out = server.openStream({ streamtype: ['stdout'] });
    const [outAtClient] = (await once(client, 'stream')) as [SpdyStream];
    assert.equal(out.id, 2, 'server stream IDs are even');
    const received = text(outAtClient);
    out.end('bye');
    const goaway = once(client, 'goaway');
    await server.close();
    assert.deepEqual(await goaway, [0]);
    assert.equal(await received, 'bye');
    await closed(stdin);
    await once(clientSocket, 'close');
    if (!server.closed) await once(server, 'close');
    assert.ok(client.closed && server.closed);
  });

  test('an idle session times out', async () => {
    const { client, server } = await pair({ idleTimeoutMs: 150 });
    const timedOut = once(server, 'timeout');
    await timedOut;
    await once(client, 'close');
    assert.ok(server.closed);
  });

  test('garbage on the wire ends the session instead of crashing it', async () => {
    const { server, clientSocket } = await pair();
    const closed = once(server, 'close');
    clientSocket.write(Buffer.from('80020001000000000000000000', 'hex'));
    const [error] = await closed;
    assert.match(String(error), /version/);
  });
});
