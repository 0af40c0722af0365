// CniPodNetwork against scriptable fake plugins: undo on failure, idempotent teardown, readiness.
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { installFakePlugins, readCalls } from '../../test/network/fake-plugin.ts';
import { makeTempDir, type TempDir } from '../../test/support/tmp.ts';
import { isBerthError } from '../errors/errors.ts';
import { CniPodNetwork, cniPortMappings, type NetworkPod } from './pod-network.ts';

let tmp: TempDir;
let n = 0;

before(async () => {
  tmp = await makeTempDir('berth-podnet-');
  await installFakePlugins(path.join(tmp.path), ['main', 'meta', 'ports']);
});
after(() => tmp.remove());

interface Setup {
  network: CniPodNetwork;
  log: string;
  confDir: string;
  cacheDir: string;
  pod: NetworkPod;
}

async function setup(plugins: Record<string, unknown>[], cniVersion = '1.0.0'): Promise<Setup> {
  n++;
  const dir = path.join(tmp.path, `case${n}`);
  const confDir = path.join(dir, 'conf');
  const cacheDir = path.join(dir, 'cache');
  const log = path.join(dir, 'calls.log');
  await mkdir(confDir, { recursive: true });
  const withLog = plugins.map((p) => ({ ...p, fake: { log, ...(p.fake as object) } }));
  await writeFile(path.join(confDir, '10-test.conflist'), JSON.stringify({ cniVersion, name: `net${n}`, plugins: withLog }));
  const network = new CniPodNetwork({ confDir, binDirs: [tmp.path], cacheDir, teardownTimeoutMs: 10_000 });
  const pod: NetworkPod = {
    id: `pod${n}`,
    name: 'web',
    namespace: 'default',
    uid: '1234-5678',
    netnsPath: '/proc/1/ns/net',
    portMappings: [
      { containerPort: 80, hostPort: 8080, protocol: 'TCP', hostIp: '127.0.0.1' },
      { containerPort: 53, protocol: 'UDP' },
    ],
  };
  return { network, log, confDir, cacheDir, pod };
}

const RESULT = {
  interfaces: [{ name: 'br' }, { name: 'eth0', sandbox: '/proc/1/ns/net' }],
  ips: [
    { address: 'fd00::3/64', interface: 1 },
    { address: '10.5.0.3/24', interface: 1 },
  ],
};

test('setUp: IPs IPv4 first, CNI_ARGS for Kubernetes, host-port mappings only', async () => {
  const s = await setup([
    { type: 'main', fake: { result: RESULT } },
    { type: 'ports', capabilities: { portMappings: true } },
  ]);
  const up = await s.network.setUp(s.pod);
  assert.deepEqual(up.ips, ['10.5.0.3', 'fd00::3']);
  assert.equal(up.network, `net${n}`);
  const [main, ports] = await readCalls(s.log);
  assert.equal(
    main!.env.CNI_ARGS,
    `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=${s.pod.id};K8S_POD_UID=1234-5678`,
  );
  assert.deepEqual(ports!.config.runtimeConfig, {
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }],
  });
  await s.network.check(s.pod);
  await s.network.tearDown(s.pod);
  await s.network.tearDown(s.pod);
  const calls = await readCalls(s.log);
  assert.deepEqual(
    calls.map((c) => `${c.command} ${c.config.type}`),
    ['ADD main', 'ADD ports', 'CHECK main', 'CHECK ports', 'DEL ports', 'DEL main'],
    'the second tearDown has nothing on record: no plugin runs',
  );
  assert.deepEqual(calls.at(-2)!.config.runtimeConfig, ports!.config.runtimeConfig, 'DEL gets the port mappings of the ADD');
});

test('setUp failing half-way DELs the whole list, in reverse, and leaves no record', async () => {
  const s = await setup([
    { type: 'main', fake: { result: RESULT } },
    { type: 'meta', fake: { failOn: ['ADD'], error: { code: 100, msg: 'no luck' } } },
    { type: 'ports', capabilities: { portMappings: true } },
  ]);
  await assert.rejects(s.network.setUp(s.pod), (e: unknown) => {
    assert.ok(isBerthError(e, 'internal'));
    assert.match(e.message, /CNI plugin "meta" failed on ADD/);
    return true;
  });
  const calls = await readCalls(s.log);
  assert.deepEqual(
    calls.map((c) => `${c.command} ${c.config.type}`),
    ['ADD main', 'ADD meta', 'DEL ports', 'DEL meta', 'DEL main'],
  );
  assert.deepEqual(calls.at(-1)!.config.prevResult, { cniVersion: '1.0.0', ...RESULT }, 'the undo knows what main added');
  assert.deepEqual(await readdir(s.cacheDir), []);
});

test('a cancelled setUp is undone too', async () => {
  const s = await setup([
    { type: 'main', fake: { result: RESULT } },
    { type: 'meta', fake: { sleepMs: 10_000 } },
  ]);
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 1000);
  await assert.rejects(s.network.setUp(s.pod, ac.signal), (e: unknown) => isBerthError(e, 'cancelled'));
  const calls = await readCalls(s.log);
  assert.deepEqual(
    calls.map((c) => `${c.command} ${c.config.type}`),
    ['ADD main', 'ADD meta', 'DEL meta', 'DEL main'],
  );
  assert.deepEqual(await readdir(s.cacheDir), []);
});

test('a result without a pod IP fails and is undone', async () => {
  const s = await setup([
    { type: 'main', fake: { result: { interfaces: [{ name: 'br' }], ips: [{ address: '10.5.0.1/24', interface: 0 }] } } },
  ]);
  await assert.rejects(s.network.setUp(s.pod), (e: unknown) => isBerthError(e, 'internal') && e.code === 'cni-no-ip');
  assert.deepEqual(
    (await readCalls(s.log)).map((c) => c.command),
    ['ADD', 'DEL'],
  );
});

test('tearDown after a daemon restart and a configuration change still DELs with what was added', async () => {
  const s = await setup([
    { type: 'main', fake: { result: RESULT } },
    { type: 'ports', capabilities: { portMappings: true } },
  ]);
  await s.network.setUp(s.pod);
  await rm(s.confDir, { recursive: true });
  const restarted = new CniPodNetwork({ confDir: s.confDir, binDirs: [tmp.path], cacheDir: s.cacheDir });
  await restarted.tearDown({ id: s.pod.id, name: '', namespace: '', uid: '', netnsPath: s.pod.netnsPath });
  const dels = (await readCalls(s.log)).filter((c) => c.command === 'DEL');
  assert.deepEqual(
    dels.map((c) => c.config.type),
    ['ports', 'main'],
  );
  assert.equal(dels[0]!.env.CNI_ARGS.includes('K8S_POD_NAME=web'), true);
  assert.deepEqual(dels[0]!.config.runtimeConfig, {
    portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }],
  });
});

test('status: ready with a configuration whose plugins are installed', async () => {
  const s = await setup([{ type: 'main' }]);
  assert.deepEqual(await s.network.status(), { ready: true, message: '' });
  const missing = await setup([{ type: 'main' }, { type: 'not-installed' }]);
  const st = await missing.network.status();
  assert.equal(st.ready, false);
  assert.match(st.message, /not-installed/);
  const none = new CniPodNetwork({ confDir: path.join(tmp.path, 'no-conf'), binDirs: [tmp.path], cacheDir: path.join(tmp.path, 'c') });
  assert.equal((await none.status()).ready, false);
  await assert.rejects(none.setUp(s.pod), (e: unknown) => isBerthError(e, 'failed-precondition'));
});

test('port mappings: CRI to CNI, bad ones refused', () => {
  assert.deepEqual(
    cniPortMappings([
      { containerPort: 80, hostPort: 80, protocol: 'SCTP' },
      { containerPort: 81, hostPort: 0 },
      { containerPort: 82, hostPort: 8082, hostIp: '' },
    ]),
    [
      { hostPort: 80, containerPort: 80, protocol: 'sctp' },
      { hostPort: 8082, containerPort: 82, protocol: 'tcp' },
    ],
  );
  assert.throws(
    () => cniPortMappings([{ containerPort: 0, hostPort: 1 }]),
    (e: unknown) => isBerthError(e, 'invalid-argument'),
  );
  assert.throws(
    () => cniPortMappings([{ containerPort: 1, hostPort: 70000 }]),
    (e: unknown) => isBerthError(e, 'invalid-argument'),
  );
  assert.throws(
    () => cniPortMappings([{ containerPort: 1, hostPort: 1, protocol: 'icmp' }]),
    (e: unknown) => isBerthError(e, 'invalid-argument'),
  );
});
