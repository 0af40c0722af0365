// The node API's exec, attach, port-forward and run against an in-memory provider, through the
// project's SPDY client and `ws`: what the protocols carry reaches the hooks and back.
import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import WebSocket from 'ws';
import { type UpgradeError, upgradeToSpdy } from '../streaming/client/http-upgrade.ts';
import { forwardPorts } from '../streaming/client/port-forward-client.ts';
import { streamOverSpdy, streamOverWebSocket } from '../streaming/client/remote-command-client.ts';
import { SPDY_REMOTE_COMMAND_PROTOCOLS, type TerminalSize } from '../streaming/remote-command.ts';
import { silentLogger } from '../util/logger.ts';
import type { Pod } from './k8s-types.ts';
import { alwaysAllow, anonymousAuthenticator } from './node-api-auth.ts';
import { type NodeApiServer, startNodeApi } from './node-http-api.ts';
import { streamOptions } from './node-streaming.ts';
import type { ExecIO, NodeApiHandler } from './provider.ts';

/** Anyone may call (the kubelet's --anonymous-auth=true with AlwaysAllow): these tests are about streaming. */
const OPEN_ACCESS = { authenticator: anonymousAuthenticator, authorizer: alwaysAllow };

const pod: Pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', namespace: 'default', uid: 'uid-1' },
  spec: {
    containers: [
      { name: 'c', image: 'x' },
      { name: 'stopped', image: 'x' },
    ],
  },
  status: {
    phase: 'Running',
    containerStatuses: [
      {
        name: 'c',
        state: { running: { startedAt: '2024-01-01T00:00:00Z' } },
        ready: true,
        restartCount: 0,
        image: 'x',
        imageID: '',
        lastState: {},
      },
      { name: 'stopped', state: { terminated: { exitCode: 0 } }, ready: false, restartCount: 0, image: 'x', imageID: '', lastState: {} },
    ],
  },
};

class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    cb();
  }
}

/** A provider whose commands are small scripts: `echo ARGS`, `cat` (stdin to stdout), `sizes` (reports resizes), `fail`. */
const calls: { command?: string[]; aborted: boolean }[] = [];
const provider: NodeApiHandler = {
  async runInContainer(_ns, _pod, _container, command, io: ExecIO, signal) {
    const call = { command, aborted: false };
    calls.push(call);
    signal.addEventListener('abort', () => (call.aborted = true));
    switch (command[0]) {
      case 'echo':
        await io.stdout?.(Buffer.from(`${command.slice(1).join(' ')}\n`));
        await io.stderr?.(Buffer.from('to stderr\n'));
        return { exitCode: Number(command.at(-1)) || 0 };
      case 'cat':
        for await (const chunk of io.stdin!) await io.stdout?.(chunk);
        return { exitCode: 0 };
      case 'sizes':
        for await (const size of io.resize!) {
          await io.stdout?.(Buffer.from(`${size.width}x${size.height}\n`));
          if (size.width === 0) break;
        }
        return { exitCode: 0 };
      case 'wait':
        await new Promise((resolve) => signal.addEventListener('abort', resolve));
        return { exitCode: 0 };
      default:
        throw new Error(`exec: "${command[0]}": executable file not found in $PATH`);
    }
  },
  async portForward(_ns, _pod, port, stream) {
    if (port !== 80) throw new Error(`dial tcp 127.0.0.1:${port}: connect: connection refused`);
    for await (const chunk of stream.readable) await stream.write(Buffer.from(Buffer.from(chunk).toString('utf8').toUpperCase()));
  },
};

describe('node API streaming (in-memory provider)', () => {
  let api: NodeApiServer;
  let base: string;
  const exec = (cmd: string[], flags: string, container = 'c') =>
    `${base}/exec/default/p/${container}?${cmd.map((c) => `command=${encodeURIComponent(c)}`).join('&')}&${flags}`;

  before(async () => {
    api = await startNodeApi({
      pods: () => [pod],
      provider,
      logger: silentLogger(),
      listeners: [{ port: 0, access: OPEN_ACCESS }],
      nodeName: 'n',
    });
    base = `http://127.0.0.1:${api.port}`;
  });
  after(() => api.close());

  test('stream options as the kubelet reads them', () => {
    assert.deepEqual(streamOptions(new URLSearchParams('input=1&output=1&error=1')), {
      stdin: true,
      stdout: true,
      stderr: true,
      tty: false,
    });
    assert.deepEqual(streamOptions(new URLSearchParams('stdout=true&stderr=true&tty=1')), {
      stdin: false,
      stdout: true,
      stderr: false,
      tty: true,
    });
    assert.throws(() => streamOptions(new URLSearchParams('tty=1')), /at least 1 of stdin, stdout, stderr/);
  });

  test('exec: output, exit code and errors over SPDY, WebSocket v5 and base64', async () => {
    const out = new Collector();
    const err = new Collector();
    const r = await streamOverSpdy(exec(['echo', 'hi', '4'], 'output=1&error=1'), { stdout: out, stderr: err, tty: false });
    assert.deepEqual([out.text, err.text, r.outcome], ['hi 4\n', 'to stderr\n', { kind: 'exit', code: 4 }]);
    const wsOut = new Collector();
    const ws = await streamOverWebSocket(exec(['echo', 'there'], 'output=1'), { stdout: wsOut, tty: false });
    assert.deepEqual([wsOut.text, ws.outcome], ['there\n', { kind: 'success' }]);
    const b64 = await streamOverWebSocket(exec(['echo', 'b64', '2'], 'output=1'), { stdout: new Collector(), tty: false }, [
      'v4.base64.channel.k8s.io',
    ]);
    assert.deepEqual([b64.protocol, b64.outcome], ['v4.base64.channel.k8s.io', { kind: 'exit', code: 2 }]);
    const missing = await streamOverSpdy(exec(['nope'], 'output=1'), { stdout: new Collector(), tty: false });
    assert.deepEqual(missing.outcome, {
      kind: 'error',
      message: 'Internal error occurred: exec: "nope": executable file not found in $PATH',
    });
  });

  test('exec: stdin reaches the hook until its end; terminal sizes follow, the first one before the start', async () => {
    const out = new Collector();
    const r = await streamOverSpdy(exec(['cat'], 'input=1&output=1'), { stdin: Readable.from(['a', 'b']), stdout: out, tty: false });
    assert.deepEqual([out.text, r.outcome], ['ab', { kind: 'success' }]);
    let size: TerminalSize = { width: 80, height: 24 };
    let changed: (() => void) | undefined;
    const tty = new Collector();
    const session = streamOverSpdy(exec(['sizes'], 'input=1&output=1&tty=1'), {
      stdin: new PassThrough(),
      stdout: tty,
      tty: true,
      size: () => size,
      onResize: (l) => {
        changed = l;
        return () => {};
      },
    });
    while (!tty.text.includes('80x24')) await sleep(20);
    size = { width: 0, height: 1 };
    changed!();
    assert.deepEqual((await session).outcome, { kind: 'success' });
    assert.equal(tty.text, '80x24\n0x1\n');
  });

  test('a client that goes away aborts the hook', async () => {
    const stop = new AbortController();
    const session = streamOverSpdy(exec(['wait'], 'output=1'), { stdout: new Collector(), tty: false, signal: stop.signal });
    while (calls.at(-1)?.command?.[0] !== 'wait') await sleep(20);
    stop.abort();
    await assert.rejects(session);
    while (api.streamingSessions > 0) await sleep(20);
    assert.equal(calls.at(-1)!.aborted, true);
  });

  test('port-forward: connections through the hook; its failure on the error stream', async () => {
    const errors: string[] = [];
    const f = await forwardPorts(
      `${base}/portForward/default/p`,
      [
        { local: 0, remote: 80 },
        { local: 0, remote: 81 },
      ],
      {
        addresses: ['127.0.0.1'],
        onError: (_p, m) => errors.push(m),
      },
    );
    try {
      const { connect } = await import('node:net');
      const talk = (port: number, text: string) =>
        new Promise<string>((resolve) => {
          const s = connect(port, '127.0.0.1', () => s.end(text));
          let got = '';
          s.on('data', (d: Buffer) => (got += d.toString('utf8')));
          s.on('error', () => {});
          s.on('close', () => resolve(got));
        });
      assert.equal(await talk(f.ports[0]!.local, 'hello'), 'HELLO');
      assert.equal(await talk(f.ports[1]!.local, 'x'), '');
      while (errors.length === 0) await sleep(20);
      assert.deepEqual(errors, [
        'error forwarding port 81 to pod default/p, uid uid-1: dial tcp 127.0.0.1:81: connect: connection refused',
      ]);
    } finally {
      await f.close();
    }
    const ws = new WebSocket(`${base.replace('http', 'ws')}/portForward/default/p?port=80`, ['portforward.k8s.io']);
    const data: Buffer[] = [];
    ws.on('message', (m: Buffer) => {
      if (m[0] !== 0) return;
      data.push(m.subarray(1));
      // The first data message is the port; then the echo, and once it is all back the client closes.
      if (data.length === 1) ws.send(Buffer.from('\0abc'));
      else if (Buffer.concat(data.slice(1)).length >= 3) ws.close();
    });
    await new Promise((resolve) => ws.once('close', resolve));
    assert.equal(Buffer.concat(data.slice(1)).toString('utf8'), 'ABC');
  });

  test('refusals before the upgrade; /run', async () => {
    const refused = async (url: string) => {
      try {
        (await upgradeToSpdy(url, SPDY_REMOTE_COMMAND_PROTOCOLS)).socket.destroy();
      } catch (e) {
        return [(e as UpgradeError).status, (e as UpgradeError).message];
      }
      return 'upgraded';
    };
    assert.deepEqual(await refused(`${base}/exec/default/nope/c?command=x&output=1`), [
      404,
      'unable to upgrade connection: pod does not exist',
    ]);
    assert.deepEqual(await refused(`${base}/attach/default/p/stopped?output=1`), [
      400,
      'unable to upgrade connection: container "stopped" in pod "p" is not running',
    ]);
    const noAttach = await startNodeApi({
      pods: () => [pod],
      provider: {},
      logger: silentLogger(),
      listeners: [{ port: 0, access: OPEN_ACCESS }],
    });
    try {
      assert.deepEqual(await refused(`http://127.0.0.1:${noAttach.port}/attach/default/p/c?output=1`), [
        501,
        'unable to upgrade connection: the provider does not serve attach',
      ]);
    } finally {
      await noAttach.close();
    }
    assert.deepEqual(await refused(`${base}/exec/default/p/other-uid/c?command=x&output=1`), [
      404,
      'unable to upgrade connection: pod not found',
    ]);
    const withUid = await streamOverSpdy(`${base}/exec/default/p/uid-1/c?command=echo&command=uid&output=1`, {
      stdout: new Collector(),
      tty: false,
    });
    assert.deepEqual(withUid.outcome, { kind: 'success' });
    const malformed = await fetch(`${base}/exec/default/%E0%A4%A/c?command=x&output=1`);
    assert.deepEqual([malformed.status, await malformed.text()], [400, 'malformed path /exec/default/%E0%A4%A/c\n']);
    const run = await fetch(`${base}/run/default/p/c?cmd=echo%20ran`, { method: 'POST' });
    assert.deepEqual([run.status, await run.text()], [200, 'ran\nto stderr\n']);
    const failed = await fetch(`${base}/run/default/p/c?cmd=echo%20x%203`, { method: 'POST' });
    assert.deepEqual([failed.status, await failed.text()], [500, "command 'echo x 3' exited with 3: x 3\nto stderr\n\n"]);
  });
});
