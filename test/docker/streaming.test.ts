// Exec, attach and port-forward of the dockershim: berth's streaming server in front of the
// DockerStreamBackend, against a real Docker Engine running the busybox-like image, driven by
// berth's own SPDY clients and by hand over WebSocket (`ws`). A sandbox is a container with
// network mode none (its loopback is enough to forward to). After each session nothing may run on
// in the containers (the engine cannot kill an exec: the backend must) and no relay may be left.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readlink } from 'node:fs/promises';
import net from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { DockerStreamBackend } from '../../src/docker/docker-stream-backend.ts';
import { BerthError } from '../../src/errors/errors.ts';
import { upgradeToSpdy } from '../../src/streaming/client/http-upgrade.ts';
import { forwardPorts } from '../../src/streaming/client/port-forward-client.ts';
import { streamOverSpdy, streamOverWebSocket } from '../../src/streaming/client/remote-command-client.ts';
import type { ExecStreamRequest } from '../../src/streaming/daemon/stream-requests.ts';
import { SpdySession } from '../../src/streaming/spdy/spdy-session.ts';
import { channel, openWebSocket } from '../streaming/support.ts';
import { pidsWithCmdline, setUpAndTearDown, waitFor } from '../support/pod-fixtures.ts';
import { freePort } from '../support/ports.ts';
import { type DockerStreamEnv, startDockerStreamEnv } from './support.ts';

let env: DockerStreamEnv;
let workerId = '';

setUpAndTearDown(
  async () => {
    env = await startDockerStreamEnv();
    workerId = await env.run('exec sleep 2147483647');
  },
  async () => {
    await env?.stop();
  },
);

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

function execUrl(cmd: string[], io: { stdin?: boolean; tty?: boolean; stderr?: boolean } = {}, containerId = workerId): string {
  const tty = io.tty ?? false;
  const request: ExecStreamRequest = {
    kind: 'exec',
    containerId,
    cmd,
    tty,
    stdin: io.stdin ?? false,
    stdout: true,
    stderr: io.stderr ?? !tty,
  };
  return env.server.execUrl(request);
}

/** The commands of the processes in a container besides its init (pid 1 in its namespace). */
async function extraProcesses(id: string): Promise<string[]> {
  const top = await env.engine.docker.getContainer(id).top({ ps_args: '-o pid,args' });
  const pid1 = (await env.engine.docker.getContainer(id).inspect()).State.Pid;
  const rows = (top.Processes ?? []) as string[][];
  return rows.filter((p) => Number(p[0]) !== pid1).map((p) => p.join(' '));
}

async function noExtraProcesses(id: string): Promise<void> {
  await waitFor('no process besides init in the container', async () => (await extraProcesses(id)).length === 0).catch(async () => {
    assert.deepEqual(await extraProcesses(id), []);
  });
}

describe('exec', { timeout: 120_000 }, () => {
  test('over SPDY v4 without a terminal: stdout and stderr apart, the exit code in the status', async () => {
    const out = sink();
    const err = sink();
    const r = await streamOverSpdy(execUrl(['sh', '-c', 'echo to-out; echo to-err >&2; exit 3']), {
      stdout: out.stream,
      stderr: err.stream,
      tty: false,
    });
    assert.equal(r.protocol, 'v4.channel.k8s.io');
    assert.equal(out.text(), 'to-out\n');
    assert.equal(err.text(), 'to-err\n');
    assert.deepEqual(r.outcome, { kind: 'exit', code: 3 });
    const ok = await streamOverSpdy(execUrl(['echo', 'fine'], { stderr: false }), { stdout: sink().stream, tty: false });
    assert.deepEqual(ok.outcome, { kind: 'success' });
    await noExtraProcesses(workerId);
  });

  test('stdin to cat: 300 000 random bytes (SPDY), its end closes the command stdin; lines over WebSocket v5', async () => {
    const out = sink();
    const stdin = new PassThrough();
    const running = streamOverSpdy(execUrl(['sh', '-c', 'wc -c'], { stdin: true, stderr: false }), {
      stdin,
      stdout: out.stream,
      tty: false,
    });
    stdin.end(randomBytes(300_000));
    const r = await running;
    assert.equal(out.text().trim(), '300000');
    assert.deepEqual(r.outcome, { kind: 'success' });

    const { ws, done } = await openWebSocket(execUrl(['sh', '-c', 'cat; echo "after eof" >&2; exit 4'], { stdin: true }), [
      'v5.channel.k8s.io',
    ]);
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('line one\n')]));
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('line two\n')]));
    ws.send(Buffer.from([255, 0])); // CLOSE stdin
    const { messages, code } = await done;
    assert.equal(code, 1000);
    assert.equal(channel(messages, 1), 'line one\nline two\n');
    assert.equal(channel(messages, 2), 'after eof\n');
    const status = JSON.parse(channel(messages, 3));
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.deepEqual(status.details.causes, [{ reason: 'ExitCode', message: '4' }]);
    await noExtraProcesses(workerId);
  });

  test('with a terminal (SPDY and WebSocket): a tty, its size from the client, resize honoured, input read', async () => {
    for (const transport of ['spdy', 'websocket'] as const) {
      // The engine sets the size once the process runs (API 1.41 has no size at create): wait for it.
      const script =
        'tty; until [ "$(stty size)" = "24 80" ]; do sleep 0.05; done; echo first:$(stty size | tr " " x); ' +
        'until [ "$(stty size)" = "43 132" ]; do sleep 0.05; done; echo then:$(stty size | tr " " x); read line; echo "got $line"; exit 6';
      const url = execUrl(['sh', '-c', script], { stdin: true, tty: true });
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
      await waitFor('the first size', () => /first:24x80/.test(out.text()));
      size = { width: 132, height: 43 };
      notify?.();
      await waitFor('the new size', () => /then:43x132/.test(out.text()));
      stdin.write('typed\r');
      const r = await running;
      const text = out.text();
      assert.match(text, /^\/dev\/pts\/\d+\r\n/, transport);
      assert.match(text, /got typed\r\n/, transport);
      assert.deepEqual(r.outcome, { kind: 'exit', code: 6 }, transport);
    }
    await noExtraProcesses(workerId);
  });

  test('a command that cannot run: the engine says why on stdout, exit code 126', async () => {
    const out = sink();
    const r = await streamOverSpdy(execUrl(['/no/such/program']), { stdout: out.stream, stderr: sink().stream, tty: false });
    assert.match(out.text(), /no such file|not found/i);
    assert.deepEqual(r.outcome, { kind: 'exit', code: 126 });
  });

  test('a client that disconnects mid-exec (SPDY with and without a terminal, WebSocket): nothing is left in the container', async () => {
    const marker = String(1_000_000 + Math.floor(Math.random() * 1_000_000));
    for (const tty of [false, true]) {
      // A child in the background too: the whole session goes.
      const { socket } = await upgradeToSpdy(execUrl(['sh', '-c', `sleep ${marker} & sleep ${marker}`], { tty, stdin: true }), [
        'v4.channel.k8s.io',
      ]);
      const session = new SpdySession(socket, { role: 'client' });
      const streams = ['error', 'stdin', 'stdout', ...(tty ? ['resize'] : ['stderr'])].map((t) => session.openStream({ streamtype: [t] }));
      await Promise.all(streams.map((s) => s.replied));
      await waitFor('the commands to run', async () => (await pidsWithCmdline(`sleep ${marker}`)).length === 2);
      socket.destroy();
      await waitFor('the commands to be killed', async () => (await pidsWithCmdline(`sleep ${marker}`)).length === 0);
      await noExtraProcesses(workerId);
    }
    const { ws } = await openWebSocket(execUrl(['sleep', marker]), ['v5.channel.k8s.io']);
    await waitFor('the command to run', async () => (await pidsWithCmdline(`sleep ${marker}`)).length > 0);
    ws.terminate();
    await waitFor('the command to be killed', async () => (await pidsWithCmdline(`sleep ${marker}`)).length === 0);
    await noExtraProcesses(workerId);
    await waitFor('the sessions to end', () => env.server.activeSessions === 0);
  });
});

describe('attach', { timeout: 120_000 }, () => {
  test('to a container started with stdin: input in, stdout and stderr apart, stdin_once ends it with the client stdin', async () => {
    const id = await env.run('exec sh', { OpenStdin: true, StdinOnce: true, AttachStdin: true });
    const out = sink();
    const err = sink();
    const stdin = new PassThrough();
    const url = env.server.attachUrl({ kind: 'attach', containerId: id, stdin: true, stdout: true, stderr: true, tty: false });
    const running = streamOverSpdy(url, { stdin, stdout: out.stream, stderr: err.stream, tty: false });
    // What is written before the attach is up would be lost: repeat until the output shows.
    await waitFor('the attach output', () => {
      if (out.text() === '') stdin.write('echo hello from attach; echo oops >&2\n');
      return out.text().startsWith('hello from attach\n') && err.text().startsWith('oops\n');
    });
    stdin.end();
    const r = await running;
    assert.deepEqual(r.outcome, { kind: 'success' });
    const state = await waitFor('the container to exit', async () => {
      const s = (await env.engine.docker.getContainer(id).inspect()).State;
      return s.Running ? undefined : s;
    });
    assert.equal(state.ExitCode, 0);
  });

  test('to the output of a running container, and on a terminal over WebSocket with resize', async () => {
    const talker = await env.run('i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done');
    const { ws, messages } = await openWebSocket(
      env.server.attachUrl({ kind: 'attach', containerId: talker, stdin: false, stdout: true, stderr: true, tty: false }),
      ['v5.channel.k8s.io'],
    );
    await waitFor('ticks', () => /tick \d+\n.*tick \d+\n/s.test(channel(messages, 1)));
    ws.close();

    const id = await env.run('exec sh', { OpenStdin: true, Tty: true, AttachStdin: true });
    const url = env.server.attachUrl({ kind: 'attach', containerId: id, stdin: true, stdout: true, stderr: false, tty: true });
    const tty = await openWebSocket(url, ['v5.channel.k8s.io']);
    tty.ws.send(Buffer.concat([Buffer.from([4]), Buffer.from(JSON.stringify({ Width: 101, Height: 31 }))]));
    const line = 'until [ "$(stty size)" = "31 101" ]; do sleep 0.05; done; echo "size:$(stty size | tr " " x)"; exit\r';
    tty.ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(line)]));
    const { messages: out } = await tty.done;
    assert.match(channel(out, 1), /size:31x101/);
    assert.deepEqual(JSON.parse(channel(out, 3)), { metadata: {}, status: 'Success' });
  });
});

/** Relays whose network namespace is the sandbox's. */
async function relaysIn(sandboxId: string): Promise<number[]> {
  const pid = (await env.engine.docker.getContainer(sandboxId).inspect()).State.Pid;
  const ns = await readlink(`/proc/${pid}/ns/net`);
  const out: number[] = [];
  for (const p of await pidsWithCmdline('netns-relay-main.ts'))
    if ((await readlink(`/proc/${p}/ns/net`).catch(() => '')) === ns) out.push(p);
  return out;
}

/** Relays this test process started. */
async function ourRelays(): Promise<number[]> {
  const out: number[] = [];
  for (const p of await pidsWithCmdline('netns-relay-main.ts')) {
    const stat = await readFile(`/proc/${p}/stat`, 'utf8').catch(() => '');
    if (stat.split(') ')[1]?.split(' ')[1] === String(process.pid)) out.push(p);
  }
  return out;
}

/** Sends `data`, half-closes, reads to the end; a connection that does not end within `timeoutMs` fails (and is retried by waitFor). */
function roundTrip(port: number, data: Buffer | string, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no end of the forwarded connection to port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => parts.push(d));
    sock.once('end', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(parts));
    });
    sock.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.end(data);
  });
}

describe('port-forward', { timeout: 120_000 }, () => {
  test("into the sandbox's network namespace: data each way (SPDY), a channel pair (WebSocket), the relay gone after", async () => {
    const sandbox = await env.run(
      'mkdir -p /www && echo hello-web > /www/index.html && httpd -p 127.0.0.1:8080 -h /www && exec nc -ll -p 9000 -e cat',
    );
    const errors: string[] = [];
    const f = await forwardPorts(
      env.server.portForwardUrl({ kind: 'portforward', podSandboxId: sandbox, ports: [] }),
      [
        { local: 0, remote: 9000 },
        { local: 0, remote: 8080 },
      ],
      { addresses: ['127.0.0.1'], onError: (_p, m) => errors.push(m) },
    );
    try {
      const [echo, web] = f.ports.map((p) => p.local) as [number, number];
      await waitFor('the web server in the sandbox', async () =>
        /hello-web/.test((await roundTrip(web, 'GET /index.html HTTP/1.0\r\n\r\n')).toString()),
      );
      // A MiB each way, two at once: more than the SPDY and relay windows, so each side must keep
      // reading control frames while a stream's reader is full.
      const blobs = [0, 1].map(() => randomBytes(1024 * 1024));
      const echoes = await Promise.all(blobs.map((b) => roundTrip(echo, b)));
      for (const [i, e] of echoes.entries()) assert.ok(e.equals(blobs[i]!), `echo ${i}: ${e.length} bytes back`);
      assert.equal((await relaysIn(sandbox)).length, 1, 'one relay, in the sandbox network');
    } finally {
      await f.close();
    }
    await waitFor('the relay to go', async () => (await relaysIn(sandbox)).length === 0);
    errors.length = 0; // the web server's first attempts may have been refused

    const url = `${env.server.portForwardUrl({ kind: 'portforward', podSandboxId: sandbox, ports: [9000] })}?port=9000`;
    const { ws, messages: live, done } = await openWebSocket(url, ['v4.channel.k8s.io']);
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('echo me\n')]));
    await waitFor('the echo', () => channel(live, 0).endsWith('echo me\n'));
    ws.close();
    const { messages } = await done;
    assert.equal(channel(messages, 0).slice(2), 'echo me\n');
    assert.equal(channel(messages, 1).slice(2), '', 'no error');
    await waitFor('the relay to go', async () => (await relaysIn(sandbox)).length === 0);
  });

  test('a sandbox on the host network is dialed directly, without a relay', async () => {
    const port = await freePort();
    const sandbox = await env.run(`exec nc -ll -p ${port} -e cat`, { HostConfig: { NetworkMode: 'host' } });
    // On the host's network the server is straight on this loopback: wait until it answers.
    await waitFor('the echo server on the host network', async () => (await roundTrip(port, 'x')).toString() === 'x');
    const f = await forwardPorts(
      env.server.portForwardUrl({ kind: 'portforward', podSandboxId: sandbox, ports: [] }),
      [{ local: 0, remote: port }],
      { addresses: ['127.0.0.1'] },
    );
    try {
      const blob = randomBytes(100_000);
      assert.ok((await roundTrip(f.ports[0]!.local, blob)).equals(blob));
      assert.deepEqual(await ourRelays(), []);
    } finally {
      await f.close();
    }
  });

  test('an unknown sandbox: the dial fails with "not found" on the error stream', async () => {
    const { done } = await openWebSocket(
      `${env.server.portForwardUrl({ kind: 'portforward', podSandboxId: 'f'.repeat(64), ports: [80] })}?port=80`,
      ['v4.channel.k8s.io'],
    );
    const { messages } = await done;
    assert.match(channel(messages, 1).slice(2), /pod sandbox f{64} not found/);
  });
});

describe('faults', { timeout: 120_000 }, () => {
  async function expectError(promise: Promise<unknown>, kind: string, code: string): Promise<void> {
    await assert.rejects(promise, (e: unknown) => {
      assert.ok(e instanceof BerthError, String(e));
      assert.equal(e.kind, kind, e.message);
      assert.equal(e.code, code, e.message);
      return true;
    });
  }

  // Last in the file: the engine's restart stops every container.
  test('unknown container: NOT_FOUND; stopped: FAILED_PRECONDITION; engine down: UNAVAILABLE (exec and attach)', async () => {
    const backend = new DockerStreamBackend({ engine: env.docker });
    const exec = (containerId: string) =>
      backend.startExec({ kind: 'exec', containerId, cmd: ['true'], stdin: false, stdout: true, stderr: true, tty: false });
    const attach = (containerId: string) =>
      backend.startAttach({ kind: 'attach', containerId, stdin: false, stdout: true, stderr: true, tty: false });
    await expectError(exec('f'.repeat(64)), 'not-found', 'container-not-found');
    await expectError(attach('f'.repeat(64)), 'not-found', 'container-not-found');
    const stopped = await env.run('exit 0');
    await waitFor('the container to stop', async () => !(await env.engine.docker.getContainer(stopped).inspect()).State.Running);
    await expectError(exec(stopped), 'failed-precondition', 'container-not-running');
    await expectError(attach(stopped), 'failed-precondition', 'container-not-running');
    // Through the server, the reason reaches the client in the status.
    const r = await streamOverSpdy(execUrl(['true'], {}, stopped), { stdout: sink().stream, stderr: sink().stream, tty: false });
    assert.equal(r.outcome.kind, 'error');
    assert.match((r.outcome as { message: string }).message, /not running/);

    await env.engine.halt();
    try {
      await expectError(exec(workerId), 'unavailable', 'docker-unavailable');
      await expectError(attach(workerId), 'unavailable', 'docker-unavailable');
    } finally {
      await env.engine.start();
    }
  });
});
