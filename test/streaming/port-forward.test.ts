// Port-forward through berth's streaming server into real pods (their own network namespace, and
// the host's), with nothing in the image but busybox: SPDY with this project's client (many
// connections at once, a MiB each way), WebSocket driven by hand with the `ws` package (channel
// pairs per port); a closed port, a client that goes away; and the berth CLI (exec, attach,
// port-forward) as a user runs it. No relay may outlive its session.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { upgradeToSpdy } from '../../src/streaming/client/http-upgrade.ts';
import { forwardPorts } from '../../src/streaming/client/port-forward-client.ts';
import { SpdySession } from '../../src/streaming/spdy/spdy-session.ts';
import type { SpdyStream } from '../../src/streaming/spdy/spdy-stream.ts';
import { expectCriError, type PodEnv, pidsWithCmdline, setUpAndTearDown, sleep, startPodEnv, waitFor } from '../support/pod-fixtures.ts';
import { freePort } from '../support/ports.ts';
import { channel, openWebSocket, streamingLeftovers } from './support.ts';

const BERTH = path.resolve(import.meta.dirname, '..', '..', 'bin', 'berth');
const SERVE = 'mkdir -p /www && echo hello-web > /www/index.html && httpd -p 8080 -h /www && exec nc -ll -p 9000 -e cat';

let env: PodEnv;
let podId = '';
let hostPodId = '';
let hostPort = 0;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({ index: 8 });
    const pod = env.podConfig('forward');
    podId = await env.runPod(pod);
    await env.startContainer(podId, env.containerConfig('servers', SERVE), pod);
    hostPort = await freePort();
    const hostPod = env.podConfig('forward-host', { linux: { securityContext: { namespaceOptions: { network: 2 } } } });
    hostPodId = await env.runPod(hostPod);
    await env.startContainer(hostPodId, env.containerConfig('host-echo', `exec nc -ll -p ${hostPort} -e cat`), hostPod);
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

async function portForwardUrl(id = podId): Promise<string> {
  return (await env.cri.runtime.portForward({ podSandboxId: id })).url;
}

/** Sends `data` on a fresh TCP connection to 127.0.0.1:port, half-closes, and returns all that comes back. */
function roundTrip(port: number, data: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const parts: Buffer[] = [];
    sock.on('data', (d: Buffer) => parts.push(d));
    sock.once('end', () => resolve(Buffer.concat(parts)));
    sock.once('error', reject);
    sock.end(data);
  });
}

function httpGet(port: number): Promise<string> {
  return roundTrip(port, 'GET /index.html HTTP/1.0\r\nHost: pod\r\n\r\n').then((b) => b.toString('utf8'));
}

/** The pod's servers take a moment to listen after the container starts. */
async function serversUp(): Promise<void> {
  const f = await forwardPorts(await portForwardUrl(), [{ local: 0, remote: 8080 }], { addresses: ['127.0.0.1'] });
  try {
    await waitFor('the web server in the pod', async () => (await httpGet(f.ports[0]!.local)).includes('hello-web'));
  } finally {
    await f.close();
  }
}

describe('port-forward', { timeout: 120_000 }, () => {
  test('over SPDY: many connections at once to two ports, a MiB each way intact, one relay for the session', async () => {
    await serversUp();
    const errors: string[] = [];
    const f = await forwardPorts(
      await portForwardUrl(),
      [
        { local: 0, remote: 8080 },
        { local: 0, remote: 9000 },
      ],
      { addresses: ['127.0.0.1'], onError: (_p, m) => errors.push(m) },
    );
    try {
      const [web, echo] = f.ports.map((p) => p.local) as [number, number];
      const blobs = [0, 1, 2].map(() => randomBytes(1024 * 1024));
      const [pages, echoes] = await Promise.all([
        Promise.all(Array.from({ length: 8 }, () => httpGet(web))),
        Promise.all(blobs.map((b) => roundTrip(echo, b))),
      ]);
      for (const page of pages) assert.match(page, /200 OK[\s\S]*hello-web/);
      for (const [i, e] of echoes.entries()) assert.ok(e.equals(blobs[i]!), `echo ${i}: ${e.length} bytes back`);
      assert.equal((await pidsWithCmdline('netns-relay-main.ts')).length, 1, 'one relay carries all connections');
      assert.deepEqual(errors, []);
    } finally {
      await f.close();
    }
  });

  test('over WebSocket (ws): a channel pair per port, the port first on each channel', async () => {
    await serversUp();
    const url = `${await portForwardUrl()}?port=9000&port=8080`;
    const { ws, messages: live, done } = await openWebSocket(url, ['v4.channel.k8s.io']);
    assert.equal(ws.protocol, 'v4.channel.k8s.io');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('echo me\n')]));
    ws.send(Buffer.concat([Buffer.from([2]), Buffer.from('GET /index.html HTTP/1.0\r\n\r\n')]));
    await waitFor('both answers', () => channel(live, 0).endsWith('echo me\n') && /hello-web/.test(channel(live, 2)));
    ws.close();
    const { messages } = await done;
    const firsts = [0, 1, 2, 3].map((c) => messages.find(([ch]) => ch === c)?.[1]);
    assert.deepEqual(firsts, [Buffer.from([0x28, 0x23]), Buffer.from([0x28, 0x23]), Buffer.from([0x90, 0x1f]), Buffer.from([0x90, 0x1f])]);
    assert.equal(channel(messages, 0).slice(2), 'echo me\n');
    assert.match(channel(messages, 2).slice(2), /200 OK[\s\S]*hello-web/);
    assert.equal(channel(messages, 1).slice(2), '', 'no error');
  });

  test('a closed port: the reason on the error stream (SPDY and WebSocket); the session serves on', async () => {
    await serversUp();
    const { socket } = await upgradeToSpdy(await portForwardUrl(), ['portforward.k8s.io']);
    const session = new SpdySession(socket, { role: 'client' });
    const pair = (port: number, id: string): SpdyStream[] => {
      const headers = { streamtype: ['error'], port: [String(port)], requestid: [id] };
      return [session.openStream(headers), session.openStream({ ...headers, streamtype: ['data'] })];
    };
    const read = (s: SpdyStream): Promise<string> =>
      new Promise((resolve) => {
        let t = '';
        s.on('data', (d: Buffer) => (t += d.toString()));
        s.once('end', () => resolve(t));
        s.once('close', () => resolve(t));
      });
    const [error, data] = pair(9999, '0') as [SpdyStream, SpdyStream];
    const [message, nothing] = await Promise.all([read(error), read(data)]);
    assert.match(message, new RegExp(`error forwarding port 9999 to pod ${podId}, uid : failed to connect to localhost:9999`));
    assert.match(message, /ECONNREFUSED/);
    assert.equal(nothing, '');
    const [error2, data2] = pair(8080, '1') as [SpdyStream, SpdyStream];
    data2.end('GET / HTTP/1.0\r\n\r\n');
    const [m2, page] = await Promise.all([read(error2), read(data2)]);
    assert.equal(m2, '');
    assert.match(page, /hello-web/);
    session.destroy();

    const { done } = await openWebSocket(`${await portForwardUrl()}?port=9999`, ['v4.channel.k8s.io']);
    const { messages } = await done;
    assert.match(channel(messages, 1).slice(2), /failed to connect to localhost:9999/);
  });

  test('a client that goes away mid-transfer: connections and relay are gone; new sessions work', async () => {
    await serversUp();
    const { socket } = await upgradeToSpdy(await portForwardUrl(), ['portforward.k8s.io']);
    const session = new SpdySession(socket, { role: 'client' });
    const headers = { streamtype: ['error'], port: ['9000'], requestid: ['0'] };
    session.openStream(headers);
    const data = session.openStream({ ...headers, streamtype: ['data'] });
    await data.replied;
    data.write(randomBytes(200_000));
    await waitFor('the relay', async () => (await pidsWithCmdline('netns-relay-main.ts')).length === 1);
    socket.destroy();
    await waitFor('the relay to go', async () => (await pidsWithCmdline('netns-relay-main.ts')).length === 0);
    const f = await forwardPorts(await portForwardUrl(), [{ local: 0, remote: 8080 }], { addresses: ['127.0.0.1'] });
    assert.match(await httpGet(f.ports[0]!.local), /hello-web/);
    await f.close();
  });

  test('a pod on the host network is reached without a relay', async () => {
    const f = await forwardPorts(await portForwardUrl(hostPodId), [{ local: 0, remote: hostPort }], { addresses: ['127.0.0.1'] });
    try {
      const blob = randomBytes(100_000);
      const back = await waitFor('the echo server on the host network', async () => {
        const b = await roundTrip(f.ports[0]!.local, blob);
        return b.length > 0 ? b : undefined;
      });
      assert.ok(back.equals(blob));
      assert.equal((await pidsWithCmdline('netns-relay-main.ts')).length, 0);
    } finally {
      await f.close();
    }
  });

  test('PortForward needs a ready pod', async () => {
    const pod = env.podConfig('stopped');
    const id = await env.runPod(pod);
    await env.cri.runtime.stopPodSandbox({ podSandboxId: id });
    await expectCriError(env.cri.runtime.portForward({ podSandboxId: id }), 'FAILED_PRECONDITION', /not ready/);
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function berth(args: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(BERTH, ['-r', env.daemon.endpoint, ...args], { encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
    if (input !== undefined) child.stdin?.end(input);
    else child.stdin?.end();
  });
}

describe('the berth CLI', { timeout: 120_000 }, () => {
  test('berth exec streams output apart and exits with the command; -i passes stdin', async () => {
    const id = (await env.cri.runtime.listContainers({ filter: { podSandboxId: podId } })).containers[0]!.id;
    const r = await berth(['exec', id.slice(0, 12), 'sh', '-c', 'echo out; echo err >&2; exit 5']);
    assert.deepEqual(r, { code: 5, stdout: 'out\n', stderr: 'err\n' });
    const i = await berth(['exec', '-i', id, 'sh', '-c', 'tr a-z A-Z'], 'shout\n');
    assert.deepEqual(i, { code: 0, stdout: 'SHOUT\n', stderr: '' });
  });

  test('berth attach -i talks to a container started with stdin', async () => {
    const pod = env.podConfig('forward');
    const id = await env.startContainer(podId, env.containerConfig('cli-shell', 'exec sh', { stdin: true, stdinOnce: true }), pod);
    const r = await berth(['attach', '-i', id], 'echo attached\nexit 0\n');
    assert.equal(r.stdout, 'attached\n');
    assert.equal(r.code, 0);
  });

  test('berth port-forward forwards until interrupted', async () => {
    await serversUp();
    const local = await freePort();
    const child = spawn(BERTH, ['-r', env.daemon.endpoint, 'port-forward', '--address', '127.0.0.1', podId, `${local}:8080`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await waitFor('berth port-forward to listen', () => out.includes(`Forwarding from 127.0.0.1:${local} -> 8080`));
      assert.match(await httpGet(local), /hello-web/);
      assert.match(out, new RegExp(`Handling connection for ${local}`));
    } finally {
      child.kill('SIGINT');
    }
    const [code] = await once(child, 'exit');
    assert.equal(code, 0);
  });
});
