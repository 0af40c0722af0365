// The CNI invocation protocol against scriptable fake plugins (no root needed).
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type FakeBehaviour, installFakePlugins, readCalls } from '../../test/network/fake-plugin.ts';
import { makeTempDir, type TempDir } from '../../test/support/tmp.ts';
import { isBerthError } from '../errors/errors.ts';
import {
  addNetworkList,
  type CniAttachment,
  type CniOptions,
  checkNetworkList,
  cniVersionAtLeast,
  delNetworkList,
  kindForCniCode,
  listCachedAttachments,
  readCachedAttachment,
} from './cni.ts';
import { type CniNetworkConfList, parseNetworkConfig } from './cni-config.ts';

let tmp: TempDir;
let options: CniOptions;
let n = 0;

before(async () => {
  tmp = await makeTempDir('berth-cni-');
  await installFakePlugins(tmp.path, ['fake-main', 'fake-meta', 'fake-caps']);
  options = { binDirs: [path.join(tmp.path, 'nowhere'), tmp.path], cacheDir: path.join(tmp.path, 'cache') };
});
after(() => tmp.remove());

const MAIN_RESULT = {
  interfaces: [{ name: 'br0' }, { name: 'eth0', sandbox: '/proc/1/ns/net' }],
  ips: [{ address: '10.9.0.4/24', gateway: '10.9.0.1', interface: 1 }],
};

/** A fresh list (own log, own container id) of main + meta + caps plugins. */
function list(cniVersion = '1.0.0', overrides: Partial<Record<'main' | 'meta' | 'caps', Partial<FakeBehaviour>>> = {}) {
  n++;
  const log = path.join(tmp.path, `calls-${n}.log`);
  const fake = (extra: Partial<FakeBehaviour> = {}): FakeBehaviour => ({ log, ...extra });
  const net: CniNetworkConfList = parseNetworkConfig(
    {
      cniVersion,
      name: `net${n}`,
      plugins: [
        { type: 'fake-main', fake: fake({ result: MAIN_RESULT, ...overrides.main }) },
        { type: 'fake-meta', fake: fake(overrides.meta) },
        {
          type: 'fake-caps',
          capabilities: { portMappings: true, bandwidth: true, ipRanges: false },
          runtimeConfig: { fromConfig: 1 },
          fake: fake(overrides.caps),
        },
      ],
    },
    'test',
  );
  const att: CniAttachment = {
    containerId: `ctr${n}`,
    netns: '/proc/1/ns/net',
    args: [
      ['K8S_POD_NAMESPACE', 'default'],
      ['K8S_POD_NAME', 'web'],
    ],
    runtimeConfig: {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }],
      bandwidth: { ingressRate: 1000 },
      ipRanges: [[{ subnet: '10.9.0.0/24' }]],
      dns: { servers: ['1.1.1.1'] },
    },
  };
  return { net, att, log };
}

describe('ADD', () => {
  test('runs the plugins in order, chaining results and passing only declared capabilities', async () => {
    const { net, att, log } = list();
    const result = await addNetworkList(options, net, att);
    assert.equal(result.ips[0]!.address, '10.9.0.4/24');
    const calls = await readCalls(log);
    assert.deepEqual(
      calls.map((c) => [c.command, c.config.type]),
      [
        ['ADD', 'fake-main'],
        ['ADD', 'fake-meta'],
        ['ADD', 'fake-caps'],
      ],
    );
    const [main, meta, caps] = calls;
    assert.equal(main!.config.prevResult, undefined);
    assert.deepEqual(meta!.config.prevResult, { cniVersion: '1.0.0', ...MAIN_RESULT });
    assert.deepEqual(caps!.config.prevResult, meta!.config.prevResult);
    for (const c of calls) {
      assert.equal(c.config.name, net.name);
      assert.equal(c.config.cniVersion, '1.0.0');
    }
    assert.equal(main!.config.runtimeConfig, undefined);
    assert.deepEqual(caps!.config.runtimeConfig, {
      fromConfig: 1,
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }],
      bandwidth: { ingressRate: 1000 },
    });
    assert.deepEqual(main!.env, {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: att.containerId,
      CNI_NETNS: '/proc/1/ns/net',
      CNI_IFNAME: 'eth0',
      CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web',
      CNI_PATH: options.binDirs.join(':'),
    });
    const rec = await readCachedAttachment(options, net.name, att.containerId);
    assert.equal(rec?.complete, true);
    assert.deepEqual(await listCachedAttachments(options, att.containerId), [rec]);
    assert.ok((await listCachedAttachments(options)).some((r) => r.containerId === att.containerId));
    assert.deepEqual(rec?.result, { cniVersion: '1.0.0', ...MAIN_RESULT });
  });

  test('a plugin error names the plugin and the CNI code decides the kind; the partial result stays on record', async () => {
    const { net, att } = list('1.0.0', { meta: { failOn: ['ADD'], error: { code: 11, msg: 'busy', details: 'try later' } } });
    await assert.rejects(addNetworkList(options, net, att), (e: unknown) => {
      assert.ok(isBerthError(e, 'unavailable'));
      assert.equal(e.code, 'cni-plugin-failed');
      assert.match(e.message, /CNI plugin "fake-meta" failed on ADD for network "net\d+": busy: try later/);
      assert.equal(e.fields.cniCode, 11);
      assert.equal(e.fields.plugin, 'fake-meta');
      return true;
    });
    const rec = await readCachedAttachment(options, net.name, att.containerId);
    assert.equal(rec?.complete, false);
    assert.deepEqual(rec?.result, { cniVersion: '1.0.0', ...MAIN_RESULT });
  });

  test('a crashing plugin: internal, with its stderr', async () => {
    const { net, att } = list('1.0.0', { main: { failOn: ['ADD'], crash: 'panic: runtime error' } });
    await assert.rejects(addNetworkList(options, net, att), (e: unknown) => {
      assert.ok(isBerthError(e, 'internal'));
      assert.match(e.message, /"fake-main" failed on ADD .*panic: runtime error/);
      return true;
    });
  });

  test('a missing plugin binary: failed-precondition', async () => {
    const { att } = list();
    const net = parseNetworkConfig({ cniVersion: '1.0.0', name: 'missing', plugins: [{ type: 'no-such-plugin' }] }, 'test');
    await assert.rejects(
      addNetworkList(options, net, att),
      (e: unknown) => isBerthError(e, 'failed-precondition') && e.code === 'cni-plugin-missing',
    );
  });

  test('a timeout kills the plugin: deadline-exceeded naming it', async () => {
    const { net, att } = list('1.0.0', { main: { sleepMs: 10_000 } });
    await assert.rejects(addNetworkList(options, net, att, AbortSignal.timeout(300)), (e: unknown) => {
      assert.ok(isBerthError(e, 'deadline-exceeded'));
      assert.match(e.message, /"fake-main" timed out on ADD/);
      return true;
    });
  });

  test('bad ids and CNI_ARGS are refused before any plugin runs', async () => {
    const { net, att, log } = list();
    await assert.rejects(addNetworkList(options, net, { ...att, containerId: '../x' }), (e: unknown) =>
      isBerthError(e, 'invalid-argument'),
    );
    await assert.rejects(addNetworkList(options, net, { ...att, args: [['K8S_POD_NAME', 'a;b=c']] }), (e: unknown) =>
      isBerthError(e, 'invalid-argument'),
    );
    assert.deepEqual(await readCalls(log), []);
  });
});

describe('DEL', () => {
  test('reverse order, with the cached result, CNI_ARGS and runtimeConfig of the ADD; the record goes', async () => {
    const { net, att, log } = list();
    await addNetworkList(options, net, att);
    // After a restart the caller knows only the id and the netns; the cache knows the rest.
    await delNetworkList(options, net, { containerId: att.containerId, netns: path.join(tmp.path, 'gone') });
    const dels = (await readCalls(log)).filter((c) => c.command === 'DEL');
    assert.deepEqual(
      dels.map((c) => c.config.type),
      ['fake-caps', 'fake-meta', 'fake-main'],
    );
    for (const c of dels) {
      assert.deepEqual(c.config.prevResult, { cniVersion: '1.0.0', ...MAIN_RESULT });
      assert.equal(c.env.CNI_NETNS, '', 'a netns path that is not a namespace is passed empty');
      assert.equal(c.env.CNI_ARGS, 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web');
    }
    assert.deepEqual(dels[0]!.config.runtimeConfig?.portMappings, att.runtimeConfig?.portMappings);
    assert.equal(await readCachedAttachment(options, net.name, att.containerId), undefined);
  });

  test('uses the configuration of the ADD even after the file changed', async () => {
    const { net, att, log } = list();
    await addNetworkList(options, net, att);
    const changed = parseNetworkConfig({ ...net.raw, plugins: (net.raw.plugins as unknown[]).slice(0, 1) }, 'changed');
    await delNetworkList(options, changed, att);
    const dels = (await readCalls(log)).filter((c) => c.command === 'DEL');
    assert.equal(dels.length, 3);
  });

  test('a failing plugin stops the list and keeps the record; a retry finishes', async () => {
    const { net, att, log } = list('1.0.0', { meta: { failOn: ['DEL'], error: { code: 5, msg: 'io' } } });
    await addNetworkList(options, net, att);
    await assert.rejects(delNetworkList(options, net, att), (e: unknown) => isBerthError(e, 'internal') && /fake-meta/.test(e.message));
    assert.deepEqual(
      (await readCalls(log)).filter((c) => c.command === 'DEL').map((c) => c.config.type),
      ['fake-caps', 'fake-meta'],
    );
    assert.ok(await readCachedAttachment(options, net.name, att.containerId));
  });

  test('0.3.1 lists get no prevResult on DEL; without a record the given list is used', async () => {
    const { net, att, log } = list('0.3.1');
    await delNetworkList(options, net, att);
    const dels = (await readCalls(log)).filter((c) => c.command === 'DEL');
    assert.equal(dels.length, 3);
    assert.ok(dels.every((c) => c.config.prevResult === undefined));
  });

  test('runs to the end with its own timeout', async () => {
    const { net, att } = list('1.0.0', { main: { sleepMs: 5000, sleepOn: ['DEL'] } });
    await assert.rejects(delNetworkList(options, net, att, { timeoutMs: 200 }), (e: unknown) => isBerthError(e, 'deadline-exceeded'));
  });
});

describe('CHECK', () => {
  test('runs in order with the cached result', async () => {
    const { net, att, log } = list();
    await addNetworkList(options, net, att);
    await checkNetworkList(options, net, { containerId: att.containerId, netns: att.netns });
    const checks = (await readCalls(log)).filter((c) => c.command === 'CHECK');
    assert.deepEqual(
      checks.map((c) => c.config.type),
      ['fake-main', 'fake-meta', 'fake-caps'],
    );
    assert.ok(checks.every((c) => c.config.prevResult !== undefined));
    assert.deepEqual(checks[2]!.config.runtimeConfig?.portMappings, att.runtimeConfig?.portMappings);
  });

  test('not-found without an ADD on record; skipped before 0.4.0 and with disableCheck', async () => {
    const { net, att } = list();
    await assert.rejects(checkNetworkList(options, net, att), (e: unknown) => isBerthError(e, 'not-found'));
    const old = list('0.3.1');
    await checkNetworkList(options, old.net, old.att);
    assert.deepEqual(await readCalls(old.log), []);
    const disabled = list();
    const net2 = parseNetworkConfig({ ...disabled.net.raw, disableCheck: true }, 'x');
    await addNetworkList(options, net2, disabled.att);
    await checkNetworkList(options, net2, disabled.att);
    assert.ok((await readCalls(disabled.log)).every((c) => c.command !== 'CHECK'));
  });
});

test('version comparison and error kinds', async () => {
  assert.ok(cniVersionAtLeast('1.0.0', '0.4.0'));
  assert.ok(cniVersionAtLeast('0.4.0', '0.4.0'));
  assert.ok(!cniVersionAtLeast('0.3.1', '0.4.0'));
  assert.ok(cniVersionAtLeast('1.1.0', '1.0.0'));
  assert.equal(kindForCniCode(11), 'unavailable');
  assert.equal(kindForCniCode(7), 'failed-precondition');
  assert.equal(kindForCniCode(999), 'internal');
  assert.equal(kindForCniCode(undefined), 'internal');
  // Every test's records are gone or belong to failed lists on purpose.
  assert.ok((await readdir(options.cacheDir)).every((f) => f.endsWith('.json')));
});
