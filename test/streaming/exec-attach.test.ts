// Exec and attach through berth's streaming server, against a real daemon running real pods:
// SPDY (remotecommand v1-v4, with this project's own SPDY client) and WebSocket (v5 and v4, driven
// by hand with the `ws` package), with and without a terminal; then the faults: a client that
// goes away, a token used twice or too late, a resize after the end, bad requests. After each
// session nothing may be left (processes, relays, session directories) and the daemon must serve on.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, test } from 'node:test';
import WebSocket from 'ws';
import { upgradeToSpdy } from '../../src/streaming/client/http-upgrade.ts';
import { streamOverSpdy, streamOverWebSocket } from '../../src/streaming/client/remote-command-client.ts';
import { SpdySession } from '../../src/streaming/spdy/spdy-session.ts';
import { expectCriError, type PodEnv, pidsWithCmdline, setUpAndTearDown, sleep, startPodEnv, waitFor } from '../support/pod-fixtures.ts';
import { channel, openWebSocket, plainRequest, streamingLeftovers } from './support.ts';

let env: PodEnv;
let podId = '';
let workerId = '';

setUpAndTearDown(
  async () => {
    // Tokens live 3 s here, so that a late one can be shown.
    env = await startPodEnv({ index: 7, extraConfig: '[streaming]\ntoken_ttl = "3s"\n' });
    const pod = env.podConfig('streams');
    podId = await env.runPod(pod);
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

function sink(): { stream: Writable; text: () => string } {
  const parts: Buffer[] = [];
  return {
    stream: new Writable({
      write(chunk: Buffer, _e, cb) {
        parts.push(chunk);
        cb();
      },
    }),
    text: () => Buffer.concat(parts).toString('utf8'),
  };
}

async function execUrl(
  cmd: string[],
  io: { stdin?: boolean; tty?: boolean; stderr?: boolean } = {},
  containerId = workerId,
): Promise<string> {
  const tty = io.tty ?? false;
  const r = await env.cri.runtime.exec({ containerId, cmd, tty, stdin: io.stdin ?? false, stdout: true, stderr: io.stderr ?? !tty });
  assert.match(r.url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]+$/);
  return r.url;
}

describe('exec', { timeout: 120_000 }, () => {
  test('over SPDY v4 without a terminal: stdout and stderr apart, the exit code in the v4 status', async () => {
    const out = sink();
    const err = sink();
    const r = await streamOverSpdy(await execUrl(['sh', '-c', 'echo to-out; echo to-err >&2; exit 3']), {
      stdout: out.stream,
      stderr: err.stream,
      tty: false,
    });
    assert.equal(r.protocol, 'v4.channel.k8s.io');
    assert.equal(out.text(), 'to-out\n');
    assert.equal(err.text(), 'to-err\n');
    assert.deepEqual(r.outcome, { kind: 'exit', code: 3 });
  });

  test('SPDY protocols v1 to v3 are served too (the status as text, success silent)', async () => {
    for (const protocol of ['v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']) {
      const { socket, protocol: chosen } = await upgradeToSpdy(await execUrl(['sh', '-c', 'echo hi; exit 2']), [protocol]);
      assert.equal(chosen, protocol);
      const session = new SpdySession(socket, { role: 'client' });
      const error = session.openStream({ streamtype: ['error'] });
      const stdout = session.openStream({ streamtype: ['stdout'] });
      const stderr = session.openStream({ streamtype: ['stderr'] });
      await Promise.all([error.replied, stdout.replied, stderr.replied]);
      const read = (s: typeof stdout): Promise<string> =>
        new Promise((resolve) => {
          let t = '';
          s.on('data', (d: Buffer) => (t += d.toString()));
          s.once('end', () => resolve(t));
          s.once('close', () => resolve(t));
        });
      const [o, e] = await Promise.all([read(stdout), read(error)]);
      assert.equal(o, 'hi\n', protocol);
      assert.match(e, /non-zero exit code: .*2/, protocol);
      session.destroy();
    }
  });

  test('over WebSocket v5 (ws): the connection notice, stdin, its CLOSE signal, output and the status', async () => {
    const { ws, done } = await openWebSocket(await execUrl(['sh', '-c', 'cat; echo "after eof" >&2; exit 4'], { stdin: true }), [
      'v5.channel.k8s.io',
    ]);
    assert.equal(ws.protocol, 'v5.channel.k8s.io');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('line one\n')]));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('line two\n')]));
    ws.send(Buffer.from([255, 0])); // CLOSE stdin
    const { messages, code } = await done;
    assert.equal(code, 1000);
    assert.deepEqual(messages[0], [1, Buffer.alloc(0)], 'an empty stdout message first: the session is up');
    assert.equal(channel(messages, 1), 'line one\nline two\n');
    assert.equal(channel(messages, 2), 'after eof\n');
    const status = JSON.parse(channel(messages, 3));
    assert.equal(status.status, 'Failure');
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details.causes, [{ reason: 'ExitCode', message: '4' }]);
  });

  test('over WebSocket v4 base64: text frames both ways', async () => {
    const ws = new WebSocket((await execUrl(['sh', '-c', 'head -c 5; echo'], { stdin: true })).replace(/^http/, 'ws'), [
      'v4.base64.channel.k8s.io',
    ]);
    const done = new Promise<string[]>((resolve) => {
      const frames: string[] = [];
      ws.on('message', (d: Buffer, isBinary) => frames.push(isBinary ? `binary:${d.toString('hex')}` : d.toString()));
      ws.once('close', () => resolve(frames));
    });
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(`0${Buffer.from('hello').toString('base64')}`);
    const frames = await done;
    const out = frames
      .filter((f) => f.startsWith('1'))
      .map((f) => Buffer.from(f.slice(1), 'base64').toString())
      .join('');
    assert.equal(out, 'hello\n');
    assert.deepEqual(JSON.parse(Buffer.from(frames.find((f) => f.startsWith('3'))!.slice(1), 'base64').toString()), {
      metadata: {},
      status: 'Success',
    });
  });

  test('with a terminal (SPDY and WebSocket): a tty of the container, its size from the client, resize honoured', async () => {
    for (const transport of ['spdy', 'websocket'] as const) {
      // The command waits for the resize to reach its terminal, then reads a line.
      const script =
        'tty; stty size; until [ "$(stty size)" = "43 132" ]; do sleep 0.05; done; stty size; read line; echo "got $line"; exit 6';
      const url = await execUrl(['sh', '-c', script], { stdin: true, tty: true });
      const out = sink();
      const stdin = new PassThrough();
      let size = { width: 80, height: 24 };
      let notify: (() => void) | undefined;
      const options = {
        stdin,
        stdout: out.stream,
        tty: true,
        size: () => size,
        onResize: (l: () => void) => {
          notify = l;
          return () => {};
        },
      };
      const running = transport === 'spdy' ? streamOverSpdy(url, options) : streamOverWebSocket(url, options);
      await waitFor('the first size', () => /24 80/.test(out.text()));
      size = { width: 132, height: 43 };
      notify?.();
      await waitFor('the new size', () => /43 132/.test(out.text()));
      stdin.write('typed\r');
      const r = await running;
      const text = out.text();
      assert.match(text, /^\/dev\/pts\/\d+\r\n24 80\r\n/, transport);
      assert.match(text, /43 132\r\n/, transport);
      assert.match(text, /got typed\r\n/, transport);
      assert.deepEqual(r.outcome, { kind: 'exit', code: 6 }, transport);
    }
  });

  test('closing stdin without a terminal ends what reads it', async () => {
    const out = sink();
    const stdin = new PassThrough();
    const running = streamOverSpdy(await execUrl(['sh', '-c', 'wc -c'], { stdin: true, stderr: false }), {
      stdin,
      stdout: out.stream,
      tty: false,
    });
    stdin.end(randomBytes(300_000));
    const r = await running;
    assert.equal(out.text().trim(), '300000');
    assert.deepEqual(r.outcome, { kind: 'success' });
  });

  test('a command that cannot run is an internal error in the status, not a hang', async () => {
    const r = await streamOverSpdy(await execUrl(['/no/such/program']), { stdout: sink().stream, stderr: sink().stream, tty: false });
    assert.equal(r.outcome.kind, 'error');
    assert.match((r.outcome as { message: string }).message, /no such program|not found|no such file/i);
    const t = await streamOverWebSocket(await execUrl(['/no/such/program'], { tty: true, stdin: true }), {
      stdout: sink().stream,
      tty: true,
    });
    assert.equal(t.outcome.kind, 'error');
  });
});

describe('attach', { timeout: 120_000 }, () => {
  test('to a container started with stdin: input in, output out, stdin_once ends it when the client closes stdin', async () => {
    const pod = env.podConfig('streams');
    const id = await env.startContainer(podId, env.containerConfig('shell', 'exec sh', { stdin: true, stdinOnce: true }), pod);
    const { url } = await env.cri.runtime.attach({ containerId: id, stdin: true, stdout: true, stderr: true });
    const out = sink();
    const err = sink();
    const stdin = new PassThrough();
    const running = streamOverSpdy(url, { stdin, stdout: out.stream, stderr: err.stream, tty: false });
    await waitFor('the attach relay', async () => (await streamingLeftovers(env.daemon)).some((l) => l.startsWith('attach relay')));
    stdin.write('echo hello from attach; echo oops >&2\n');
    await waitFor('the attach output', () => out.text() === 'hello from attach\n' && err.text() === 'oops\n');
    stdin.end();
    const r = await running;
    assert.deepEqual(r.outcome, { kind: 'success' });
    const status = await waitFor('the container to exit', async () => {
      const s = (await env.cri.runtime.containerStatus({ containerId: id })).status;
      return s?.state === 2 ? s : undefined;
    });
    assert.equal(status.exitCode, 0);
  });

  test('to a container on a terminal over WebSocket: resize reaches its terminal', async () => {
    const pod = env.podConfig('streams');
    const id = await env.startContainer(podId, env.containerConfig('tty-shell', 'exec sh', { stdin: true, tty: true }), pod);
    const { url } = await env.cri.runtime.attach({ containerId: id, stdin: true, stdout: true, tty: true });
    const { ws, done } = await openWebSocket(url, ['v5.channel.k8s.io']);
    ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: 101, Height: 31 }))]));
    // The shell waits for the resize to reach its terminal (the terminal echoes the typed line: the
    // size is printed in another form).
    const line = 'until [ "$(stty size)" = "31 101" ]; do sleep 0.05; done; echo "size:$(stty size | tr " " x)"; exit\r';
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(line)]));
    const { messages } = await done;
    assert.match(channel(messages, 1), /size:31x101/);
    assert.deepEqual(JSON.parse(channel(messages, 3)), { metadata: {}, status: 'Success' });
  });
});

describe('faults', { timeout: 120_000 }, () => {
  test('a client that disconnects mid-stream: the command is killed, nothing is left, the daemon serves on', async () => {
    const marker = String(1_000_000 + Math.floor(Math.random() * 1_000_000));
    for (const tty of [false, true]) {
      const { socket } = await upgradeToSpdy(await execUrl(['sleep', marker], { tty, stdin: true }), ['v4.channel.k8s.io']);
      const session = new SpdySession(socket, { role: 'client' });
      const streams = ['error', 'stdin', 'stdout', ...(tty ? ['resize'] : ['stderr'])].map((t) => session.openStream({ streamtype: [t] }));
      await Promise.all(streams.map((s) => s.replied));
      await waitFor('the command to run', async () => (await pidsWithCmdline(`sleep ${marker}`)).length > 0);
      socket.destroy();
      await waitFor('the command to be killed', async () => (await pidsWithCmdline(`sleep ${marker}`)).length === 0);
      await waitFor('no leftovers', async () => (await streamingLeftovers(env.daemon)).length === 0);
    }
    // Over a WebSocket as well.
    const { ws } = await openWebSocket(await execUrl(['sleep', marker]), ['v5.channel.k8s.io']);
    await waitFor('the command to run', async () => (await pidsWithCmdline(`sleep ${marker}`)).length > 0);
    ws.terminate();
    await waitFor('the command to be killed', async () => (await pidsWithCmdline(`sleep ${marker}`)).length === 0);
    const out = sink();
    assert.deepEqual((await streamOverSpdy(await execUrl(['true'], { stderr: false }), { stdout: out.stream, tty: false })).outcome, {
      kind: 'success',
    });
  });

  test('a daemon killed during a TTY exec: once it is back, the orphaned session is gone', async () => {
    const marker = String(2_000_000 + Math.floor(Math.random() * 1_000_000));
    const { socket } = await upgradeToSpdy(await execUrl(['sleep', marker], { tty: true, stdin: true }), ['v4.channel.k8s.io']);
    const session = new SpdySession(socket, { role: 'client' });
    const streams = ['error', 'stdin', 'stdout', 'resize'].map((t) => session.openStream({ streamtype: [t] }));
    await Promise.all(streams.map((s) => s.replied));
    await waitFor('the command to run', async () => (await pidsWithCmdline(`sleep ${marker}`)).length > 0);
    await env.daemon.kill9();
    session.destroy();
    // conmon outlives the daemon by design; the command under it goes on until the daemon is back.
    assert.ok((await pidsWithCmdline(`sleep ${marker}`)).length > 0);
    await env.daemon.restart();
    await waitFor('the orphaned command to be gone', async () => (await pidsWithCmdline(`sleep ${marker}`)).length === 0);
    assert.deepEqual(await streamingLeftovers(env.daemon), []);
    const out = sink();
    assert.deepEqual(
      (await streamOverSpdy(await execUrl(['echo', 'back'], { stderr: false }), { stdout: out.stream, tty: false })).outcome,
      {
        kind: 'success',
      },
    );
    assert.equal(out.text(), 'back\n');
  });

  test('an attach client that disconnects leaves no relay; the container keeps running', async () => {
    const pod = env.podConfig('streams');
    const id = await env.startContainer(podId, env.containerConfig('shell2', 'exec sh', { stdin: true }), pod);
    const { url } = await env.cri.runtime.attach({ containerId: id, stdin: true, stdout: true, stderr: true });
    const { ws } = await openWebSocket(url, ['v5.channel.k8s.io']);
    await waitFor('the attach relay', async () => (await streamingLeftovers(env.daemon)).some((l) => l.startsWith('attach relay')));
    ws.terminate();
    await waitFor('no relay', async () => (await streamingLeftovers(env.daemon)).length === 0);
    const s = (await env.cri.runtime.containerStatus({ containerId: id })).status;
    assert.equal(s?.state, 1, 'still running: stdin stays open without stdin_once');
  });

  test('a token works once (then 404) and not after its TTL (404, "expired")', async () => {
    const url = await execUrl(['true'], { stderr: false });
    const first = await streamOverSpdy(url, { stdout: sink().stream, tty: false });
    assert.deepEqual(first.outcome, { kind: 'success' });
    await assert.rejects(streamOverSpdy(url, { stdout: sink().stream, tty: false }), (e: Error & { status?: number }) => e.status === 404);
    await assert.rejects(openWebSocket(url, ['v5.channel.k8s.io']), /HTTP 404/);

    const late = await execUrl(['true']);
    await sleep(3500); // time itself is the event here: the token's TTL (3 s) passes
    const r = await plainRequest(late, { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' });
    assert.equal(r.status, 404);
    assert.match(r.body, /expired/);
    // A made-up token, and a token of another kind of request.
    assert.equal((await plainRequest(url.replace(/exec\/.*/, 'exec/AAAAAAAAAAAAAAAAAAAAAA'))).status, 404);
    const attach = (await env.cri.runtime.attach({ containerId: workerId, stdout: true })).url;
    assert.equal((await plainRequest(attach.replace('/attach/', '/exec/'))).status, 404);
  });

  test('upgrades that do not fit are refused with the kubelet statuses', async () => {
    const noUpgrade = await plainRequest(await execUrl(['true']));
    assert.equal(noUpgrade.status, 400);
    const noProtocol = await plainRequest(await execUrl(['true']), { Connection: 'Upgrade', Upgrade: 'SPDY/3.1' });
    assert.equal(noProtocol.status, 400);
    assert.match(noProtocol.body, /X-Stream-Protocol-Version is required/);
    const res = await plainRequest(await execUrl(['true']), {
      Connection: 'Upgrade',
      Upgrade: 'SPDY/3.1',
      'X-Stream-Protocol-Version': 'v9.channel.k8s.io',
    });
    assert.equal(res.status, 403);
    assert.equal(
      res.headers['x-accepted-stream-protocol-versions'],
      'v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io',
    );
    await assert.rejects(openWebSocket(await execUrl(['true']), ['v9.channel.k8s.io']), /HTTP 400/);
  });

  test('resizes after the session ended are ignored; the daemon serves on', async () => {
    const url = await execUrl(['sh', '-c', 'exit 0'], { tty: true, stdin: true });
    const { ws, done } = await openWebSocket(url, ['v5.channel.k8s.io']);
    for (let i = 0; i < 20; i++) {
      if (ws.readyState !== ws.OPEN) break;
      ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: 50 + i, Height: 20 }))]));
      await sleep(20);
    }
    const { messages } = await done;
    assert.deepEqual(JSON.parse(channel(messages, 3)), { metadata: {}, status: 'Success' });
    // And straight at a dead session's control fifo (what a late resize of a racing client reaches).
    const { resizeConmonTerminal } = await import('../../src/streaming/daemon/conmon-ctl.ts');
    assert.equal(await resizeConmonTerminal('/nonexistent/session', { width: 10, height: 10 }), false);
    assert.deepEqual((await streamOverSpdy(await execUrl(['true'], { stderr: false }), { stdout: sink().stream, tty: false })).outcome, {
      kind: 'success',
    });
  });

  test('Exec and Attach check their requests (CRI statuses)', async () => {
    await expectCriError(
      env.cri.runtime.exec({ containerId: workerId, cmd: ['true'], tty: true, stderr: true, stdout: true }),
      'INVALID_ARGUMENT',
      /tty and stderr/,
    );
    await expectCriError(
      env.cri.runtime.exec({ containerId: workerId, cmd: ['true'] }),
      'INVALID_ARGUMENT',
      /one of stdin, stdout, or stderr/,
    );
    await expectCriError(env.cri.runtime.exec({ containerId: workerId, cmd: [], stdout: true }), 'INVALID_ARGUMENT');
    await expectCriError(env.cri.runtime.exec({ containerId: 'f'.repeat(64), cmd: ['true'], stdout: true }), 'NOT_FOUND');
    await expectCriError(env.cri.runtime.attach({ containerId: workerId, tty: true, stderr: true }), 'INVALID_ARGUMENT');
    const pod = env.podConfig('streams');
    const stopped = await env.createContainer(podId, env.containerConfig('never-started'), pod);
    await expectCriError(env.cri.runtime.exec({ containerId: stopped, cmd: ['true'], stdout: true }), 'FAILED_PRECONDITION', /not running/);
    await expectCriError(env.cri.runtime.attach({ containerId: stopped, stdout: true }), 'FAILED_PRECONDITION');
    await expectCriError(env.cri.runtime.portForward({ podSandboxId: 'f'.repeat(64) }), 'NOT_FOUND');
  });

  test('the streaming server answers only on loopback by default', async () => {
    const url = new URL(await execUrl(['true']));
    assert.equal(url.hostname, '127.0.0.1');
    const sock = net.connect(Number(url.port), '127.0.0.1');
    await new Promise((resolve) => sock.once('connect', resolve));
    sock.destroy();
  });
});
