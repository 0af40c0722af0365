// The streaming server on its own, with a backend that runs commands on the host (no containers):
// TLS, the idle timeout, shutdown with sessions open, single-use URLs.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { silentLogger } from '../../util/logger.ts';
import { streamOverSpdy, streamOverWebSocket } from '../client/remote-command-client.ts';
import type { StreamProcess } from '../run-remote-command.ts';
import { HostDialer } from './port-dialer.ts';
import type { StreamBackend } from './stream-backend.ts';
import type { ExecStreamRequest } from './stream-requests.ts';
import { StreamingServer } from './streaming-server.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'berth-streaming-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Each command the backend started, and its exit code (137 when killed). */
const started: { pid: number; exited: Promise<number> }[] = [];

/** Runs the command on the host with pipes, as the runtime's pipe exec does in a container. */
const hostBackend: StreamBackend = {
  async startExec(request: ExecStreamRequest): Promise<StreamProcess> {
    const child = spawn(request.cmd[0]!, request.cmd.slice(1), { stdio: [request.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number>((resolve) => child.once('exit', (code, sig) => resolve(code ?? (sig ? 137 : 0))));
    started.push({ pid: child.pid!, exited });
    return {
      stdin: child.stdin ?? undefined,
      stdout: child.stdout!,
      stderr: child.stderr!,
      resize: () => {},
      done: exited,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
  },
  async startAttach(): Promise<StreamProcess> {
    throw new Error('no attach here');
  },
  portDialer: () => new HostDialer(),
};

function sink(): { stream: Writable; text: () => string } {
  const parts: Buffer[] = [];
  return {
    stream: new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
    }),
    text: () => Buffer.concat(parts).toString(),
  };
}

const exec = (cmd: string[], stdin = false): ExecStreamRequest => ({
  kind: 'exec',
  containerId: 'host',
  cmd,
  stdin,
  stdout: true,
  stderr: true,
  tty: false,
});

describe('StreamingServer', () => {
  test('serves over TLS when given a certificate and key', async () => {
    const cert = path.join(dir, 'tls.crt');
    const key = path.join(dir, 'tls.key');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'],
      {
        stdio: 'ignore',
      },
    );
    const server = await StreamingServer.start({
      address: '127.0.0.1',
      port: 0,
      tlsCert: cert,
      tlsKey: key,
      idleTimeoutMs: 0,
      tokenTtlMs: 60_000,
      backend: hostBackend,
      logger: silentLogger(),
    });
    try {
      const url = server.execUrl(exec(['sh', '-c', 'echo secure; exit 9']));
      assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/exec\//);
      const out = sink();
      const r = await streamOverSpdy(url, { stdout: out.stream, stderr: sink().stream, tty: false });
      assert.equal(out.text(), 'secure\n');
      assert.deepEqual(r.outcome, { kind: 'exit', code: 9 });
      const out2 = sink();
      const w = await streamOverWebSocket(server.execUrl(exec(['echo', 'wss'])), {
        stdout: out2.stream,
        stderr: sink().stream,
        tty: false,
      });
      assert.equal(out2.text(), 'wss\n');
      assert.deepEqual(w.outcome, { kind: 'success' });
    } finally {
      await server.close();
    }
  });

  test('an idle session is closed and its process killed', async () => {
    const server = await StreamingServer.start({
      address: '127.0.0.1',
      port: 0,
      idleTimeoutMs: 400,
      tokenTtlMs: 60_000,
      backend: hostBackend,
      logger: silentLogger(),
    });
    try {
      const before = started.length;
      const r = await streamOverSpdy(server.execUrl(exec(['sleep', '30'])), { stdout: sink().stream, stderr: sink().stream, tty: false });
      assert.equal(r.outcome.kind, 'success', 'no status: the client reads an empty error stream');
      assert.equal(await started[before]!.exited, 137, 'the command was killed: the session did not wait for its end');
    } finally {
      await server.close();
    }
  });

  test('closing the server ends its sessions and kills their processes', async () => {
    const server = await StreamingServer.start({
      address: '127.0.0.1',
      port: 0,
      idleTimeoutMs: 0,
      tokenTtlMs: 60_000,
      backend: hostBackend,
      logger: silentLogger(),
    });
    const before = started.length;
    const stdin = new PassThrough();
    const running = streamOverWebSocket(server.execUrl(exec(['cat'], true)), {
      stdin,
      stdout: sink().stream,
      stderr: sink().stream,
      tty: false,
    });
    while (started.length === before) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.activeSessions, 1);
    await server.close();
    await started[before]!.exited;
    await running;
    assert.equal(server.activeSessions, 0);
  });
});
