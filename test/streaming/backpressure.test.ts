// The streaming server of a real berth daemon against clients that attack its memory: a PING
// flood from a client that never reads, a busy exec whose client does not read stdout, a header
// block larger than allowed, and more sessions than [streaming] max_sessions. Memory is measured
// as the daemon's RSS, with generous bounds; the daemon must serve on after each.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { isBerthError } from '../../src/errors/errors.ts';
import { UpgradeError, upgradeToSpdy } from '../../src/streaming/client/http-upgrade.ts';
import { streamOverSpdy } from '../../src/streaming/client/remote-command-client.ts';
import { encodeControlFrame, GoAwayStatus } from '../../src/streaming/spdy/spdy-frames.ts';
import { SpdySession } from '../../src/streaming/spdy/spdy-session.ts';
import { exec, type PodEnv, pidsWithCmdline, setUpAndTearDown, sleep, startPodEnv, waitFor } from '../support/pod-fixtures.ts';
import { openWebSocket, streamingLeftovers } from './support.ts';

const MAX_SESSIONS = 3;
const MiB = 1024 * 1024;
const execFileP = promisify(execFile);

let env: PodEnv;
let workerId = '';

setUpAndTearDown(
  async () => {
    env = await startPodEnv({
      index: 160,
      subnetPrefix: '10.160.1.',
      extraConfig: `[streaming]\nmax_sessions = ${MAX_SESSIONS}\nmax_buffered = "256KiB"\n`,
    });
    const pod = env.podConfig('backpressure');
    const podId = await env.runPod(pod);
    workerId = await env.startContainer(podId, env.containerConfig('worker'), pod);
  },
  async () => {
    await env?.cleanUp();
  },
);

afterEach(async () => {
  await waitFor('streaming leftovers to go', async () => (await streamingLeftovers(env.daemon)).length === 0, 10_000).catch(async () => {
    assert.deepEqual(await streamingLeftovers(env.daemon), []);
  });
});

async function rss(pid: number): Promise<number> {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'no VmRSS');
  return Number(m[1]) * 1024;
}

/** Bytes the daemon has not read of the connection from local port `port` (its side's Recv-Q). */
async function peerReceiveQueue(port: number): Promise<number> {
  const { stdout } = await execFileP('ss', ['-tnH', 'state', 'established', 'dst', `127.0.0.1:${port}`]);
  return Math.max(
    0,
    ...stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => Number(l.trim().split(/\s+/)[0])),
  );
}

async function execUrl(cmd: string[], stdin = false): Promise<string> {
  return (await env.cri.runtime.exec({ containerId: workerId, cmd, tty: false, stdin, stdout: true, stderr: true })).url;
}

/** A stdout that takes nothing until released (a client that does not read), then everything. */
function heldSink(): { stream: Writable; bytes: () => number; release: () => void } {
  let bytes = 0;
  let held: (() => void) | undefined;
  let released = false;
  const stream = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _e, cb) {
      bytes += chunk.length;
      if (released) cb();
      else held = cb;
    },
  });
  return {
    stream,
    bytes: () => bytes,
    release: () => {
      released = true;
      held?.();
    },
  };
}

async function echoWorks(): Promise<void> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  const r = await streamOverSpdy(await execUrl(['echo', 'still serving']), { stdout: out, stderr: new PassThrough(), tty: false });
  assert.deepEqual(r.outcome, { kind: 'success' });
  assert.equal(Buffer.concat(chunks).toString(), 'still serving\n');
}

describe('streaming backpressure', { timeout: 180_000 }, () => {
  test('a PING flood from a client that never reads: the daemon stops reading it, its memory stays bounded', async () => {
    const { socket } = await upgradeToSpdy(await execUrl(['sleep', '600']), ['v4.channel.k8s.io']);
    const localPort = (socket as Socket).localPort;
    assert.ok(localPort, 'no local port');
    socket.pause();
    let closed = false;
    socket.once('close', () => (closed = true));
    socket.on('error', () => {});
    const pings: Buffer[] = [];
    for (let i = 0; i < 8192; i++) pings.push(encodeControlFrame({ type: 'ping', id: 2 * i + 1 }));
    const chunk = Buffer.concat(pings);
    const before = await rss(env.daemon.pid);
    let sent = 0;
    let stalled = 0;
    // Written as fast as the daemon takes it, until it takes no more (its receive queue stays full), closes, or 256 MiB went.
    while (sent < 256 * MiB && !closed && stalled < 5) {
      if (socket.write(chunk)) {
        sent += chunk.length;
        await new Promise(setImmediate);
        continue;
      }
      sent += chunk.length;
      const drained = await Promise.race([new Promise<boolean>((r) => socket.once('drain', () => r(true))), sleep(100).then(() => false)]);
      stalled = drained ? 0 : (await peerReceiveQueue(localPort)) >= 64 * 1024 ? stalled + 1 : 0;
    }
    const grown = (await rss(env.daemon.pid)) - before;
    socket.destroy();
    assert.ok(sent < 256 * MiB || closed, 'the daemon read the whole flood');
    // Unbounded, the answers alone would be as large as the flood.
    assert.ok(grown < 96 * MiB, `the daemon grew by ${Math.round(grown / MiB)} MiB`);
    await echoWorks();
  });

  test('a WebSocket PING flood from a client that never reads: the daemon closes the session, its memory stays bounded', async () => {
    const { ws } = await openWebSocket(await execUrl(['sleep', '600']), ['v5.channel.k8s.io']);
    ws.pause();
    ws.on('error', () => {});
    const payload = Buffer.alloc(125, 1);
    const before = await rss(env.daemon.pid);
    let sent = 0;
    while (sent < 256 * MiB && ws.readyState === ws.OPEN) {
      for (let i = 0; i < 1000; i++) ws.ping(payload);
      sent += 1000 * payload.length;
      // As fast as the daemon takes them.
      await waitFor('the pings to go out', () => ws.readyState !== ws.OPEN || ws.bufferedAmount < MiB, 60_000);
    }
    const grown = (await rss(env.daemon.pid)) - before;
    ws.terminate();
    assert.ok(sent < 256 * MiB, 'the daemon read the whole flood');
    assert.ok(grown < 64 * MiB, `the daemon grew by ${Math.round(grown / MiB)} MiB`);
    await echoWorks();
  });

  test('a busy exec whose client does not read stdout is throttled, then delivers everything', async () => {
    const size = 64 * MiB;
    const marker = `/tmp/flood-${process.pid}`;
    const sink = heldSink();
    const before = await rss(env.daemon.pid);
    const session = streamOverSpdy(await execUrl(['sh', '-c', `head -c ${size} /dev/zero; touch ${marker}`]), {
      stdout: sink.stream,
      stderr: new PassThrough(),
      tty: false,
    });
    // The writer sleeps in a full pipe (state S, not R), again and again: its output waits for the client.
    let blocked = 0;
    await waitFor(
      'the writer to be blocked',
      async () => {
        const [pid] = await pidsWithCmdline(`head -c ${size}`);
        assert.ok(pid, 'head is gone: its output was taken without the client');
        const state = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.[0];
        blocked = state === 'S' ? blocked + 1 : 0;
        return blocked >= 5;
      },
      60_000,
    );
    const grown = (await rss(env.daemon.pid)) - before;
    assert.ok(grown < 48 * MiB, `the daemon grew by ${Math.round(grown / MiB)} MiB`);
    assert.ok(sink.bytes() < size / 2, `the client took ${sink.bytes()} bytes`);
    assert.equal((await exec(env, workerId, `test -e ${marker} || echo absent`)).stdout, 'absent\n');
    sink.release();
    assert.deepEqual((await session).outcome, { kind: 'success' });
    assert.equal(sink.bytes(), size);
  });

  test('a header block larger than allowed ends the session with GOAWAY; the daemon serves on', async () => {
    const { socket } = await upgradeToSpdy(await execUrl(['true']), ['v4.channel.k8s.io']);
    const session = new SpdySession(socket, { role: 'client' });
    const goaway = once(session, 'goaway');
    const closed = once(session, 'close');
    const stream = session.openStream({ streamtype: ['error'], padding: ['a'.repeat(4 * MiB)] });
    stream.on('error', () => {});
    stream.replied.catch(() => {});
    assert.deepEqual(await goaway, [GoAwayStatus.PROTOCOL_ERROR]);
    await closed;
    await echoWorks();
  });

  test('more sessions than max_sessions: the next is refused with 429, the others are served, the URL works later', async () => {
    const inputs = ['one', 'two', 'three'].map(() => new PassThrough());
    const outputs = inputs.map(() => [] as Buffer[]);
    const running = inputs.map(async (stdin, i) => {
      const stdout = new PassThrough();
      stdout.on('data', (c: Buffer) => outputs[i]!.push(c));
      const url = await execUrl(['sh', '-c', 'read x; echo "got $x"'], true);
      return streamOverSpdy(url, { stdin, stdout, stderr: new PassThrough(), tty: false });
    });
    await waitFor('three readers', async () => (await pidsWithCmdline('read x')).length >= MAX_SESSIONS);
    const fourth = await execUrl(['echo', 'fourth']);
    const refused = await upgradeToSpdy(fourth, ['v4.channel.k8s.io']).then(
      (r) => {
        r.socket.destroy();
        return undefined;
      },
      (e: unknown) => e,
    );
    assert.ok(refused instanceof UpgradeError && isBerthError(refused), String(refused));
    assert.equal(refused.status, 429);
    assert.match(refused.message, /too many streaming sessions/);
    // The three sessions go on unharmed.
    for (const [i, word] of ['one', 'two', 'three'].entries()) inputs[i]!.end(`${word}\n`);
    for (const r of await Promise.all(running)) assert.deepEqual(r.outcome, { kind: 'success' });
    assert.deepEqual(
      outputs.map((o) => Buffer.concat(o).toString()),
      ['got one\n', 'got two\n', 'got three\n'],
    );
    // The refused URL was not spent: it works once a session ended.
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    assert.deepEqual((await streamOverSpdy(fourth, { stdout: out, stderr: new PassThrough(), tty: false })).outcome, { kind: 'success' });
    assert.equal(Buffer.concat(chunks).toString(), 'fourth\n');
  });
});
