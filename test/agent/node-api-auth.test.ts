// Who gets into `berth node`'s API, tried with curl and the berth CLI against the real binary with
// the cri provider on a berth daemon (pods on 10.157.0.0/24): the root-only socket, the HTTPS port
// with client certificates checked against --client-ca-file (anonymous off), the read-only port.
// The attackers: callers with no certificate, with a certificate of another CA, and user nobody.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import type { Pod, PodList } from '../../src/agent/k8s-types.ts';
import { nodeApiFetch } from '../../src/cli/kube/node-api-endpoint.ts';
import { freePort } from '../support/ports.ts';
import { startBerthRuntime } from './support/berth-runtime.ts';
import { BERTH, makeNodeDirs, removeDir, runtimeLogTail, startRuntimeWithRegistry } from './support/node-harness.ts';
import type { RuntimeUnderTest } from './support/runtime-under-test.ts';
import { waitFor } from './support/wait-for.ts';

const run = promisify(execFile);
const NODE = 'authnode';
const POD = `toolbox-${NODE}`;
const AS_NOBODY = ['/usr/bin/setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--'];

const MANIFEST = `
apiVersion: v1
kind: Pod
metadata: {name: toolbox}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - {name: main, image: busybox:1.36, command: [sh, -c, 'echo log-line-$((6*7)); exec sleep 3600']}
`;

/** Every path that runs or reads something, with the method and headers a real client sends. */
const PATHS: { name: string; method: string; path: string; upgrade?: 'spdy' | 'websocket' }[] = [
  { name: 'run', method: 'POST', path: `/run/default/${POD}/main?cmd=id` },
  { name: 'exec (SPDY)', method: 'POST', path: `/exec/default/${POD}/main?command=id&output=1`, upgrade: 'spdy' },
  { name: 'exec (WebSocket)', method: 'GET', path: `/exec/default/${POD}/main?command=id&output=1`, upgrade: 'websocket' },
  { name: 'attach', method: 'POST', path: `/attach/default/${POD}/main?output=1`, upgrade: 'spdy' },
  { name: 'portForward', method: 'POST', path: `/portForward/default/${POD}`, upgrade: 'spdy' },
  { name: 'containerLogs', method: 'GET', path: `/containerLogs/default/${POD}/main` },
  { name: 'events', method: 'GET', path: '/events' },
  { name: 'pods', method: 'GET', path: '/pods' },
  { name: 'metrics', method: 'GET', path: '/metrics' },
  { name: 'stats/summary', method: 'GET', path: '/stats/summary' },
  { name: 'healthz', method: 'GET', path: '/healthz' },
];
const READ_ONLY = new Set(['pods', 'metrics', 'stats/summary', 'healthz']);

function upgradeHeaders(kind: 'spdy' | 'websocket' | undefined): string[] {
  if (kind === 'spdy')
    return ['-H', 'Connection: Upgrade', '-H', 'Upgrade: SPDY/3.1', '-H', 'X-Stream-Protocol-Version: v4.channel.k8s.io'];
  if (kind === 'websocket') {
    return [
      ...['-H', 'Connection: Upgrade', '-H', 'Upgrade: websocket', '-H', 'Sec-WebSocket-Version: 13'],
      ...['-H', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', '-H', 'Sec-WebSocket-Protocol: v5.channel.k8s.io'],
    ];
  }
  return [];
}

interface CurlResult {
  /** curl's exit code: 0 with an HTTP answer, 7 when it could not connect. */
  exit: number;
  status: number;
  body: string;
  stderr: string;
}

/** One request with curl (as `nobody` when asked); the status line is all that counts for an upgrade. */
async function curl(args: string[], p: (typeof PATHS)[number], url: string, nobody = false): Promise<CurlResult> {
  const argv = [
    ...['-sS', '--max-time', '10', '-X', p.method, '-o', '-', '-w', '\\n%{http_code}'],
    ...upgradeHeaders(p.upgrade),
    ...args,
    url,
  ];
  const cmd = nobody ? [...AS_NOBODY, 'curl', ...argv] : ['curl', ...argv];
  try {
    const { stdout, stderr } = await run(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 20_000 });
    return parse(0, stdout, stderr);
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return parse(typeof err.code === 'number' ? err.code : -1, err.stdout ?? '', err.stderr ?? '');
  }
}

function parse(exit: number, stdout: string, stderr: string): CurlResult {
  const cut = stdout.lastIndexOf('\n');
  return { exit, status: Number(stdout.slice(cut + 1)) || 0, body: stdout.slice(0, cut), stderr };
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args, { timeout: 30_000 });
}

/** A CA and a client certificate it signed (CN=user, O=group), in `dir` as NAME-ca.{crt,key} and NAME.{crt,key}. */
async function makeClient(dir: string, name: string, user: string): Promise<{ ca: string; cert: string; key: string }> {
  const f = (s: string) => path.join(dir, s);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req',
    '-x509',
    ...ec,
    '-days',
    '2',
    '-subj',
    `/CN=${name}-ca`,
    '-keyout',
    f(`${name}-ca.key`),
    '-out',
    f(`${name}-ca.crt`),
  ]);
  await openssl(['req', '-new', ...ec, '-subj', `/O=system:masters/CN=${user}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`)]);
  await writeFile(f(`${name}.ext`), 'extendedKeyUsage=clientAuth\n');
  await openssl([
    ...['x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${name}-ca.crt`), '-CAkey', f(`${name}-ca.key`), '-CAcreateserial'],
    ...['-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.crt`)],
  ]);
  return { ca: f(`${name}-ca.crt`), cert: f(`${name}.crt`), key: f(`${name}.key`) };
}

describe('berth node API: authentication and the read-only port', { timeout: 300_000 }, () => {
  let dir: string;
  let runtime: RuntimeUnderTest | undefined;
  let registry: Awaited<ReturnType<typeof startRuntimeWithRegistry>>['registry'] | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  let log = '';
  let port = 0;
  let readOnlyPort = 0;
  let socket = '';
  let client: { ca: string; cert: string; key: string };
  let rogue: { ca: string; cert: string; key: string };
  let servingCert = '';
  const https = (p: string) => `https://127.0.0.1:${port}${p}`;

  before(async () => {
    let manifestDir: string;
    ({ dir, manifestDir } = await makeNodeDirs('berth-node-auth-'));
    ({ registry, runtime } = await startRuntimeWithRegistry(startBerthRuntime, { subnet: '10.157.0.0/24' }));
    client = await makeClient(dir, 'client', 'admin');
    rogue = await makeClient(dir, 'rogue', 'admin');
    [port, readOnlyPort] = [await freePort(), await freePort()];
    const rootDir = path.join(dir, 'node-root');
    socket = path.join(rootDir, 'node.sock');
    servingCert = path.join(rootDir, 'pki', 'node.crt');
    await writeFile(path.join(manifestDir, 'toolbox.yaml'), MANIFEST);
    const args = [
      ...['node', '--runtime-endpoint', runtime.endpoint, '--node-name', NODE, '--node-ip', '127.0.0.1', '--manifests', manifestDir],
      ...['--pod-logs-dir', path.join(dir, 'pod-logs'), '--root-dir', rootDir],
      ...['--cgroup-root', String(runtime.providerConfig?.cgroupParent ?? '')],
      ...['--address', '127.0.0.1', '--port', String(port), '--read-only-port', String(readOnlyPort), '--client-ca-file', client.ca],
    ];
    child = spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', BERTH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (log += d.toString('utf8')));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString('utf8')));
    await waitFor(
      'the toolbox pod running, seen through the socket',
      async () => {
        const res = await nodeApiFetch(`unix://${socket}`, '/pods').catch(() => undefined);
        if (!res?.ok) return undefined;
        const pod = ((await res.json()) as PodList).items.find((p: Pod) => p.metadata.name === POD);
        return pod?.status?.containerStatuses?.[0]?.state?.running ? true : undefined;
      },
      { timeoutMs: 120_000, describe: () => `${log.slice(-3000)}\n${runtimeLogTail('berth daemon', runtime, 2000)}` },
    );
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    await runtime?.stop();
    await registry?.stop();
    await removeDir(dir);
  });

  test('the socket is root only (0600); nobody cannot open it; root runs commands through it', async () => {
    const st = await stat(socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.uid, 0);
    for (const p of PATHS) {
      const refused = await curl(['--unix-socket', socket], p, `http://localhost${p.path}`, true);
      assert.equal(refused.exit, 7, `${p.name} as nobody over the socket: ${JSON.stringify(refused)}`);
    }
    const connect = `require('node:net').connect(${JSON.stringify(socket)}).on('error', (e) => { console.log(e.code); process.exit(0); })`;
    const asNobody = await run(AS_NOBODY[0]!, [...AS_NOBODY.slice(1), process.execPath, '-e', connect], { encoding: 'utf8' });
    assert.equal(asNobody.stdout, 'EACCES\n');
    const ran = await curl(['--unix-socket', socket], PATHS[0]!, `http://localhost${PATHS[0]!.path}`);
    assert.equal(ran.status, 200, ran.body);
    assert.match(ran.body, /^uid=0\(root\)/);
    const logs = await curl(['--unix-socket', socket], PATHS[5]!, `http://localhost${PATHS[5]!.path}`);
    assert.deepEqual([logs.status, logs.body], [200, 'log-line-42\n']);
  });

  test('the HTTPS port refuses callers without a certificate of the client CA, root or nobody', async () => {
    for (const p of PATHS) {
      for (const [who, args, nobody] of [
        ['no certificate', ['-k'], false],
        ['no certificate, as nobody', ['-k'], true],
        ['a certificate of another CA', ['-k', '--cert', rogue.cert, '--key', rogue.key], false],
      ] as const) {
        const r = await curl([...args], p, https(p.path), nobody);
        assert.equal(r.status, 401, `${p.name} with ${who}: ${JSON.stringify(r)}`);
        assert.equal(r.body, 'Unauthorized\n');
      }
    }
  });

  test('the HTTPS port serves a caller with a client certificate, under its self-signed certificate in the root dir', async () => {
    const auth = ['--cacert', servingCert, '--cert', client.cert, '--key', client.key];
    const ran = await curl(auth, PATHS[0]!, https(PATHS[0]!.path));
    assert.equal(ran.status, 200, JSON.stringify(ran));
    assert.match(ran.body, /^uid=0\(root\)/);
    const pods = await curl(auth, PATHS[7]!, https('/pods'));
    assert.equal(pods.status, 200);
    assert.ok((JSON.parse(pods.body) as PodList).items.some((p) => p.metadata.name === POD));
    // The upgrade goes through: SPDY's 101.
    const spdy = await curl([...auth, '--max-time', '3'], PATHS[1]!, https(PATHS[1]!.path));
    assert.equal(spdy.status, 101, JSON.stringify(spdy));
  });

  test('the read-only port serves pods, healthz, metrics and stats only, to anyone', async () => {
    for (const p of PATHS) {
      const r = await curl([], p, `http://127.0.0.1:${readOnlyPort}${p.path}`, true);
      if (READ_ONLY.has(p.name) && p.method === 'GET') assert.equal(r.status, 200, `${p.name}: ${JSON.stringify(r)}`);
      else assert.equal(r.status, 404, `${p.name}: ${JSON.stringify(r)}`);
      assert.doesNotMatch(r.body, /uid=0|log-line-42/);
    }
  });

  test('berth exec pod/… over the socket and over the HTTPS port with a client certificate; refused for nobody', async () => {
    const exec = (env: NodeJS.ProcessEnv, nodeApi: string, nobody = false) => {
      const cmd = [...(nobody ? AS_NOBODY : []), BERTH, 'exec', `pod/${POD}`, '--node-api', nodeApi, '--', 'id', '-u'];
      return run(cmd[0]!, cmd.slice(1), { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 }).then(
        (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
      );
    };
    assert.deepEqual(await exec({}, `unix://${socket}`), { code: 0, stdout: '0\n', stderr: '' });
    const certEnv = { BERTH_NODE_CLIENT_CERT: client.cert, BERTH_NODE_CLIENT_KEY: client.key, BERTH_NODE_CA: servingCert };
    assert.deepEqual(await exec(certEnv, `https://127.0.0.1:${port}`), { code: 0, stdout: '0\n', stderr: '' });
    const viaSocket = await exec({}, `unix://${socket}`, true);
    assert.equal(viaSocket.code, 1);
    assert.match(viaSocket.stderr, /cannot reach the node API at unix:.*EACCES/);
    const noCert = await exec({}, `https://127.0.0.1:${port}`, true);
    assert.equal(noCert.code, 1);
    assert.match(noCert.stderr, /401 Unauthorized/);
    const rogueEnv = { BERTH_NODE_CLIENT_CERT: rogue.cert, BERTH_NODE_CLIENT_KEY: rogue.key };
    const rogueRun = await exec(rogueEnv, `https://127.0.0.1:${port}`);
    assert.equal(rogueRun.code, 1);
    assert.match(rogueRun.stderr, /401 Unauthorized/);
  });
});
