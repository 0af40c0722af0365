// Exec, attach, port-forward, run and stats through berth node's API (the kubelet's paths), served
// by the cri provider over a real runtime's streaming server: node-streaming-berth.test.ts and
// node-streaming-containerd.test.ts. Real clients: the project's SPDY client, `ws` WebSockets and
// the berth CLI. After each test no session, exec process or relay may be left.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readdir, readFile, readlink, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, afterEach, before, describe, test } from 'node:test';
import WebSocket from 'ws';
import type { Pod } from '../../../src/agent/k8s-types.ts';
import type { RunningNode } from '../../../src/agent/node.ts';
import { type NodeApiServer, startNodeApi } from '../../../src/agent/node-http-api.ts';
import type { PodProvider } from '../../../src/agent/provider.ts';
import type { Summary } from '../../../src/agent/stats-summary.ts';
import { UpgradeError, upgradeToSpdy } from '../../../src/streaming/client/http-upgrade.ts';
import { forwardPorts } from '../../../src/streaming/client/port-forward-client.ts';
import { streamOverSpdy, streamOverWebSocket } from '../../../src/streaming/client/remote-command-client.ts';
import { PORT_FORWARD_PROTOCOL, SPDY_REMOTE_COMMAND_PROTOCOLS, type TerminalSize } from '../../../src/streaming/remote-command.ts';
import type { TestRegistry } from '../../support/registry.ts';
import { OPEN_ACCESS, socketUrl } from './node-api.ts';
import {
  BERTH,
  idsOf,
  testLogger as logger,
  makeNodeDirs,
  removeDir,
  runtimeLogTail,
  runtimeObjectsOf,
  startCriNode,
  startRuntimeWithRegistry,
  stopNodeStack,
} from './node-harness.ts';
import type { RuntimeUnderTest, StartRuntime } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const NODE_NAME = 'node1';
const POD = 'toolbox-node1';

const TOOLBOX = `
apiVersion: v1
kind: Pod
metadata: {name: toolbox}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
    - {name: main, image: busybox:1.36, command: [sleep, "3600"]}
    - name: web
      image: busybox:1.36
      command: [sh, -c, "mkdir -p /www && echo hello-through-port-forward > /www/index.html && exec httpd -f -p 8080 -h /www"]
    - name: talker
      image: busybox:1.36
      command: [sh, -c, 'while read line; do echo "got:$line"; done']
      stdin: true
    - {name: quitter, image: busybox:1.36, command: ["true"]}
`;

/** A Writable that keeps what it gets and can wait for a pattern in it. */
class Collector extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString('utf8');
    callback();
  }
  until(pattern: RegExp, what: string): Promise<string> {
    return waitFor(what, () => (pattern.test(this.text) ? this.text : undefined), {
      timeoutMs: 20_000,
      describe: () => `output: ${JSON.stringify(this.text)}`,
    });
  }
}

/** Pids whose cgroup names the container: its processes, exec'd ones included. */
async function processesOf(containerId: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cgroup = await readFile(`/proc/${entry}/cgroup`, 'utf8').catch(() => '');
    if (cgroup.includes(containerId)) pids.push(Number(entry));
  }
  return pids;
}

/** berth daemon's port-forward relays in the pod's network namespace and attach relays in its containers' bundles. */
async function relaysOf(podNetns: string, containerIds: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
    if (cmdline.includes('netns-relay-main.ts') && (await readlink(`/proc/${entry}/ns/net`).catch(() => '')) === podNetns) {
      found.push(`port-forward relay ${entry}`);
    }
    if (cmdline.includes('SOCK_SEQPACKET')) {
      const cwd = await readlink(`/proc/${entry}/cwd`).catch(() => '');
      if (containerIds.some((id) => cwd.includes(id))) found.push(`attach relay ${entry} in ${cwd}`);
    }
  }
  return found;
}

function run(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(BERTH, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(input ?? '');
  });
}

/** The status and message of a refused upgrade. */
async function refusal(
  url: string,
  protocols: readonly string[] = SPDY_REMOTE_COMMAND_PROTOCOLS,
): Promise<{ status: number; message: string }> {
  try {
    const { socket } = await upgradeToSpdy(url, protocols, { timeoutMs: 10_000 });
    socket.destroy();
  } catch (e) {
    if (e instanceof UpgradeError) return { status: e.status, message: e.message };
    throw e;
  }
  throw new Error(`${url} was upgraded`);
}

export function nodeStreamingScenarios(runtimeTitle: string, start: StartRuntime, subnet: string): void {
  describe(`berth node API streaming, cri provider, ${runtimeTitle}`, { timeout: 300_000 }, () => {
    let dir: string;
    let manifestDir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let provider: PodProvider | undefined;
    let node: RunningNode | undefined;
    let api: NodeApiServer | undefined;
    let base = '';
    let ids: Record<string, string> = {};
    let baseline: Record<string, number> = {};
    let podNetns = '';

    const pod = (): Pod | undefined => node?.pod('default', POD);
    const describePods = () => `pod: ${JSON.stringify(pod()?.status, null, 1)}\n${runtimeLogTail(runtimeTitle, runtime, 3000)}`;
    const execUrl = (container: string, cmd: string[], flags: string) =>
      `${base}/exec/default/${POD}/${container}?${cmd.map((c) => `command=${encodeURIComponent(c)}`).join('&')}${flags ? `&${flags}` : ''}`;

    before(async () => {
      ({ dir, manifestDir } = await makeNodeDirs('berth-node-streaming-'));
      ({ registry, runtime } = await startRuntimeWithRegistry(start, { subnet }));
      ({ provider, node } = await startCriNode({ nodeName: NODE_NAME, runtime, dir, manifestDir, nodeApi: true }));
      // A second server on the same node and provider, to see its open sessions.
      api = await startNodeApi({
        pods: () => node!.pods(),
        nodeName: NODE_NAME,
        provider,
        logger,
        listeners: [{ port: 0, access: OPEN_ACCESS }],
      });
      base = `http://127.0.0.1:${api.port}`;
      await writeFile(path.join(manifestDir, 'toolbox.yaml'), TOOLBOX);
      const running = await waitFor(
        'toolbox running (quitter done)',
        () => {
          const statuses = pod()?.status?.containerStatuses ?? [];
          const state = (name: string) => statuses.find((s) => s.name === name)?.state;
          const ready =
            ['main', 'web', 'talker'].every((n) => state(n)?.running !== undefined) && state('quitter')?.terminated !== undefined;
          return ready ? statuses : undefined;
        },
        { timeoutMs: 120_000, describe: describePods },
      );
      ids = Object.fromEntries(running.map((s) => [s.name, s.containerID!.replace(/^[a-z]+:\/\//, '')]));
      await waitFor('httpd listens', async () => {
        const r = await fetch(`http://${pod()!.status!.podIP}:8080/index.html`, { signal: AbortSignal.timeout(2000) }).catch(
          () => undefined,
        );
        return r?.ok ? true : undefined;
      });
      for (const name of ['main', 'web', 'talker']) baseline[name] = (await processesOf(ids[name]!)).length;
      assert.ok(baseline.main! >= 1, `the processes of main are found by their cgroup: ${JSON.stringify(baseline)}`);
      podNetns = await readlink(`/proc/${(await processesOf(ids.main!))[0]}/ns/net`);
    });

    afterEach(async () => {
      await waitFor('no streaming session left on the node', () => (api?.streamingSessions === 0 ? true : undefined), {
        timeoutMs: 15_000,
      });
      for (const name of ['main', 'web', 'talker']) {
        await waitFor(
          `no exec process left in ${name}`,
          async () => ((await processesOf(ids[name]!)).length === baseline[name] ? true : undefined),
          { timeoutMs: 15_000, describe: () => `baseline ${baseline[name]}` },
        );
      }
      await waitFor('no relay left', async () => ((await relaysOf(podNetns, Object.values(ids))).length === 0 ? true : undefined), {
        timeoutMs: 15_000,
      });
    });

    after(async () => {
      await api?.close();
      await stopNodeStack({ node, provider, runtime, registry });
      await removeDir(dir);
    });

    test('exec: stdout, stderr and the exit code (in the status channel), over SPDY and WebSocket', async () => {
      const cmd = ['sh', '-c', 'echo out; echo err >&2; exit 3'];
      const out = new Collector();
      const err = new Collector();
      const spdy = await streamOverSpdy(execUrl('main', cmd, 'output=1&error=1'), { stdout: out, stderr: err, tty: false });
      assert.deepEqual(
        [out.text, err.text, spdy.outcome, spdy.protocol],
        ['out\n', 'err\n', { kind: 'exit', code: 3 }, 'v4.channel.k8s.io'],
      );

      const wsOut = new Collector();
      const wsErr = new Collector();
      const ws = await streamOverWebSocket(execUrl('main', cmd, 'stdout=1&stderr=1'), { stdout: wsOut, stderr: wsErr, tty: false });
      assert.deepEqual(
        [wsOut.text, wsErr.text, ws.outcome, ws.protocol],
        ['out\n', 'err\n', { kind: 'exit', code: 3 }, 'v5.channel.k8s.io'],
      );

      // The kubelet's v4 status, as client-go reads it.
      const raw = new WebSocket(execUrl('main', cmd, 'output=1&error=1').replace(/^http/, 'ws'), ['v4.channel.k8s.io']);
      const messages: Buffer[] = [];
      raw.on('message', (data: Buffer) => messages.push(data));
      await new Promise((resolve) => raw.once('close', resolve));
      const status = JSON.parse(Buffer.concat(messages.filter((m) => m[0] === 3).map((m) => m.subarray(1))).toString('utf8'));
      assert.equal(status.status, 'Failure');
      assert.equal(status.reason, 'NonZeroExitCode');
      assert.deepEqual(status.details.causes, [{ reason: 'ExitCode', message: '3' }]);

      const ok = await streamOverSpdy(execUrl('main', ['echo', 'fine'], 'output=1'), { stdout: new Collector(), tty: false });
      assert.deepEqual(ok.outcome, { kind: 'success' });
    });

    test('exec with stdin: its end reaches the command (SPDY half-close, v5 CLOSE signal)', async () => {
      const out = new Collector();
      const spdy = await streamOverSpdy(execUrl('main', ['cat'], 'input=1&output=1&error=1'), {
        stdin: Readable.from(['hello\n', 'world\n']),
        stdout: out,
        stderr: new Collector(),
        tty: false,
      });
      assert.deepEqual([out.text, spdy.outcome], ['hello\nworld\n', { kind: 'success' }]);
      const wsOut = new Collector();
      const ws = await streamOverWebSocket(execUrl('main', ['sh', '-c', 'wc -l'], 'input=1&output=1'), {
        stdin: Readable.from(['a\n', 'b\n', 'c\n']),
        stdout: wsOut,
        tty: false,
      });
      assert.deepEqual([wsOut.text.trim(), ws.outcome], ['3', { kind: 'success' }]);
    });

    test('TTY exec: the terminal has the client size, and resizes reach it', async () => {
      let size: TerminalSize = { width: 100, height: 30 };
      let onResize: (() => void) | undefined;
      const stdin = new PassThrough();
      const out = new Collector();
      const session = streamOverSpdy(execUrl('main', ['sh'], 'input=1&output=1&tty=1'), {
        stdin,
        stdout: out,
        tty: true,
        size: () => size,
        onResize: (listener) => {
          onResize = listener;
          return () => {};
        },
      });
      // The shell waits for each size to reach its terminal (containerd applies the first one right
      // after the shell starts); the terminal echoes the typed line, so the size is printed in another form.
      const sizeOnceItIs = (s: string) =>
        `until [ "$(busybox stty size)" = "${s}" ]; do busybox sleep 0.05; done; echo "size:$(busybox stty size | busybox tr ' ' x)"\n`;
      stdin.write(sizeOnceItIs('30 100'));
      await out.until(/size:30x100/, 'the first size');
      size = { width: 120, height: 40 };
      onResize?.();
      stdin.write(sizeOnceItIs('40 120'));
      await out.until(/size:40x120/, 'the new size');
      stdin.write('exit 7\n');
      const result = await session;
      assert.deepEqual(result.outcome, { kind: 'exit', code: 7 });
    });

    test('attach to a container with stdin: input reaches it, output comes back; detaching leaves it running', async () => {
      const attachAndSay = async (line: string): Promise<void> => {
        const stdin = new PassThrough();
        const out = new Collector();
        const detach = new AbortController();
        const session = streamOverSpdy(`${base}/attach/default/${POD}/talker?input=1&output=1&error=1`, {
          stdin,
          stdout: out,
          stderr: new Collector(),
          tty: false,
          signal: detach.signal,
        });
        await waitFor('the attach session', () => (api!.streamingSessions === 1 ? true : undefined));
        stdin.write(`${line}\n`);
        await out.until(new RegExp(`got:${line}`), 'the echo of the attached container');
        detach.abort();
        await assert.rejects(session);
        await waitFor('the session to end', () => (api!.streamingSessions === 0 ? true : undefined));
      };
      await attachAndSay('hello');
      // Detaching left its stdin open: a second attach is answered by the same process.
      await attachAndSay('again');
      const talker = pod()!.status!.containerStatuses!.find((s) => s.name === 'talker')!;
      assert.ok(talker.state.running !== undefined, 'talker still runs');
      assert.equal(talker.restartCount, 0);
    });

    test('port-forward to a port the pod serves, over SPDY and WebSocket; a closed port is reported', async () => {
      const url = `${base}/portForward/default/${POD}`;
      const errors: string[] = [];
      const forwarding = await forwardPorts(
        url,
        [
          { local: 0, remote: 8080 },
          { local: 0, remote: 9999 },
        ],
        {
          addresses: ['127.0.0.1'],
          onError: (_p, message) => errors.push(message),
        },
      );
      try {
        const [web, closed] = forwarding.ports;
        for (let i = 0; i < 2; i++) {
          const res = await fetch(`http://127.0.0.1:${web!.local}/index.html`, { signal: AbortSignal.timeout(15_000) });
          assert.equal(await res.text(), 'hello-through-port-forward\n');
        }
        const conn = net.connect(closed!.local, '127.0.0.1');
        conn.on('error', () => {});
        conn.resume();
        await new Promise((resolve) => conn.once('close', resolve));
        await waitFor('the error of the closed port', () => (errors.length > 0 ? true : undefined), { timeoutMs: 15_000 });
        assert.match(errors[0]!, new RegExp(`^error forwarding port 9999 to pod default/${POD}, uid ${pod()!.metadata.uid}: .+`));
      } finally {
        await forwarding.close();
      }

      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}?port=8080`, ['v4.channel.k8s.io']);
      const messages: Buffer[] = [];
      ws.on('message', (data: Buffer) => {
        messages.push(data);
        // Both channels announced the port: send the request.
        if (messages.length === 2) ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('GET /index.html HTTP/1.0\r\n\r\n')]));
      });
      await new Promise((resolve) => ws.once('close', resolve));
      const data = messages.filter((m) => m[0] === 0).map((m) => m.subarray(1));
      assert.deepEqual([...data[0]!], [8080 & 0xff, 8080 >> 8], 'the data channel starts with the port');
      assert.match(Buffer.concat(data.slice(1)).toString('utf8'), /^HTTP\/1\.[01] 200 OK[\s\S]*hello-through-port-forward\n$/);
      assert.equal(
        Buffer.concat(messages.filter((m) => m[0] === 1).map((m) => m.subarray(1))).length,
        2,
        'nothing but the port on the error channel',
      );
    });

    test('/run: the output, or 500 when the command fails', async () => {
      const ok = await fetch(`${base}/run/default/${POD}/main?cmd=echo%20ran%20here`, { method: 'POST' });
      assert.deepEqual([ok.status, await ok.text()], [200, 'ran here\n']);
      const failed = await fetch(`${base}/run/default/${POD}/main?cmd=false`, { method: 'POST' });
      assert.equal(failed.status, 500);
      assert.match(await failed.text(), /command 'false' exited with 1/);
      const get = await fetch(`${base}/run/default/${POD}/main?cmd=true`);
      assert.equal(get.status, 405);
      await get.text();
    });

    test('/stats/summary: the node and the pod with plausible figures', async () => {
      const read = async (): Promise<Summary> => {
        const res = await fetch(`${base}/stats/summary`);
        const text = await res.text();
        assert.equal(res.status, 200, text);
        return JSON.parse(text) as Summary;
      };
      await read();
      const summary = await read();
      assert.equal(summary.node.nodeName, NODE_NAME);
      assert.ok(summary.node.memory!.workingSetBytes! > 0 && summary.node.memory!.availableBytes! > 0);
      assert.ok(summary.node.cpu!.usageCoreNanoSeconds! > 0 && summary.node.cpu!.usageNanoCores !== undefined);
      assert.ok(summary.node.fs!.capacityBytes! > summary.node.fs!.availableBytes!);
      const entry = summary.pods.find((p) => p.podRef.name === POD);
      assert.ok(entry, `the pod in ${JSON.stringify(summary.pods.map((p) => p.podRef))}`);
      assert.deepEqual(entry.podRef, { name: POD, namespace: 'default', uid: pod()!.metadata.uid });
      assert.deepEqual(
        entry.containers.map((c) => c.name),
        ['main', 'talker', 'web'],
      );
      for (const c of entry.containers) {
        assert.ok(c.memory!.workingSetBytes! > 0, `${c.name} uses memory: ${JSON.stringify(c.memory)}`);
        assert.ok(c.cpu!.usageCoreNanoSeconds! > 0, `${c.name} used CPU: ${JSON.stringify(c.cpu)}`);
        assert.ok(Date.parse(c.startTime) > 0);
      }
      assert.ok(entry.memory!.workingSetBytes! > 0);
      assert.ok(Number.isInteger(entry.cpu!.usageNanoCores));
    });

    test('bad requests are refused before the upgrade, clearly', async () => {
      assert.deepEqual(await refusal(`${base}/exec/default/nosuchpod/main?command=ls&output=1`), {
        status: 404,
        message: 'unable to upgrade connection: pod does not exist',
      });
      assert.deepEqual(await refusal(`${base}/exec/default/${POD}/nosuch?command=ls&output=1`), {
        status: 404,
        message: 'unable to upgrade connection: container not found ("nosuch")',
      });
      assert.deepEqual(await refusal(`${base}/attach/default/${POD}/quitter?output=1`), {
        status: 400,
        message: `unable to upgrade connection: container "quitter" in pod "${POD}" is not running`,
      });
      assert.deepEqual(await refusal(`${base}/exec/default/${POD}/main?output=1`), {
        status: 400,
        message: 'unable to upgrade connection: you must specify at least one command for the container',
      });
      assert.deepEqual(await refusal(`${base}/exec/default/${POD}/main?command=ls`), {
        status: 400,
        message: 'unable to upgrade connection: you must specify at least 1 of stdin, stdout, stderr',
      });
      assert.equal((await refusal(`${base}/portForward/default/nosuchpod`, [PORT_FORWARD_PROTOCOL])).status, 404);
      const plain = await fetch(execUrl('main', ['ls'], 'output=1'));
      assert.deepEqual([plain.status, await plain.text()], [400, 'unable to upgrade: missing upgrade headers in request\n']);
      const noPort = new WebSocket(`${base.replace(/^http/, 'ws')}/portForward/default/${POD}`, ['v4.channel.k8s.io']);
      noPort.on('error', () => {});
      const refused = await new Promise<number>((resolve) => {
        noPort.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        noPort.once('open', () => resolve(101));
      });
      noPort.terminate();
      assert.equal(refused, 400);
      // A command the container does not have fails inside the session, as the runtime says.
      const missing = await streamOverSpdy(execUrl('main', ['no-such-command'], 'output=1&error=1'), {
        stdout: new Collector(),
        stderr: new Collector(),
        tty: false,
      });
      assert.ok(
        missing.outcome.kind === 'error' || (missing.outcome.kind === 'exit' && missing.outcome.code !== 0),
        JSON.stringify(missing.outcome),
      );
    });

    test('berth exec pod/… and berth port-forward pod/… against the running node', async () => {
      const nodeApi = ['--node-api', socketUrl(node!)];
      const exec = await run([
        'exec',
        'pod/toolbox-node1',
        '-c',
        'main',
        ...nodeApi,
        '--',
        'sh',
        '-c',
        'echo cli-out; echo cli-err >&2; exit 5',
      ]);
      assert.deepEqual(exec, { code: 5, stdout: 'cli-out\n', stderr: 'cli-err\n' });
      const piped = await run(['exec', '-i', 'pod/toolbox-node1', ...nodeApi, '--', 'cat'], 'piped\n');
      assert.equal(piped.code, 0);
      assert.equal(piped.stdout, 'piped\n');
      assert.equal(piped.stderr, 'Defaulted container "main" out of: main, web, talker, quitter\n');
      const unknown = await run(['exec', 'pod/nosuch', ...nodeApi, '--', 'true']);
      assert.deepEqual([unknown.code, unknown.stderr], [1, 'berth exec: pods "nosuch" not found\n']);

      const child = spawn(BERTH, ['port-forward', 'pod/toolbox-node1', '0:8080', ...nodeApi], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const local = await waitFor('port-forward listening', () => /Forwarding from 127\.0\.0\.1:(\d+) -> 8080/.exec(stdout)?.[1], {
          timeoutMs: 30_000,
          describe: () => stdout,
        });
        const res = await fetch(`http://127.0.0.1:${local}/index.html`, { signal: AbortSignal.timeout(15_000) });
        assert.equal(await res.text(), 'hello-through-port-forward\n');
        assert.match(stdout, new RegExp(`Handling connection for ${local}`));
      } finally {
        child.kill('SIGINT');
      }
      assert.equal(await exited, 0);
    });

    test('removing the pod leaves nothing behind', async () => {
      const uid = pod()!.metadata.uid!;
      const { sandboxes } = idsOf(await runtimeObjectsOf(runtime!, uid));
      await unlink(path.join(manifestDir, 'toolbox.yaml'));
      await waitFor('the pod gone', () => (pod() === undefined ? true : undefined), { timeoutMs: 60_000, describe: describePods });
      await waitFor(
        'nothing of the pod left',
        async () => ((await runtime!.leftovers({ sandboxes, containers: Object.values(ids) })).length === 0 ? true : undefined),
        { timeoutMs: 30_000, describe: describePods },
      );
      baseline = { main: 0, web: 0, talker: 0 };
    });
  });
}
