import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { ConfigMap, Pod, Secret } from '../../../agent/k8s-types.ts';
import { listMountPoints } from '../../../snapshot/mount.ts';
import { silentLogger } from '../../../util/logger.ts';
import { SyncReasons } from '../sync-reasons.ts';
import { memoryVolumeSize } from './empty-dir.ts';
import { PodVolumes } from './pod-volumes.ts';
import { podDir, volumeDir } from './volume-paths.ts';

let root: string;
const configMaps = new Map<string, ConfigMap>();
const secrets = new Map<string, Secret>();
const events: string[] = [];
const reasons = new SyncReasons();
let volumes: PodVolumes;

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'berth-pod-volumes-'));
  volumes = new PodVolumes({
    rootDir: root,
    nodeMemoryBytes: 1 << 30,
    configMaps: { getConfigMap: async (ns, name) => configMaps.get(`${ns}/${name}`) },
    secrets: { getSecret: async (ns, name) => secrets.get(`${ns}/${name}`) },
    reasons,
    events: { podEvent: (_pod, type, reason, message) => events.push(`${type} ${reason} ${message}`) },
    logger: silentLogger(),
  });
});

after(async () => {
  for (const m of (await listMountPoints()).filter((p) => p.startsWith(`${root}/`))) assert.fail(`left mounted: ${m}`);
  await rm(root, { recursive: true, force: true });
});

const mountsUnder = async (dir: string) => (await listMountPoints()).filter((m) => m.startsWith(`${dir}/`));

function podWith(uid: string, volumesSpec: Pod['spec']['volumes']): Pod {
  return {
    metadata: { name: 'p', namespace: 'default', uid, labels: { app: 'demo' } },
    spec: { containers: [{ name: 'c', resources: { limits: { memory: '64Mi' } } }], volumes: volumesSpec },
  };
}

test('memory volumes are sized by sizeLimit, else the pod memory limit, else the node', () => {
  const pod = podWith('x', []);
  assert.equal(memoryVolumeSize(pod, 1 << 30), 64 << 20);
  assert.equal(memoryVolumeSize(pod, 1 << 30, '16Mi'), 16 << 20);
  assert.equal(memoryVolumeSize(pod, 1 << 30, '128Mi'), 64 << 20);
  assert.equal(memoryVolumeSize({ ...pod, spec: { containers: [{ name: 'c' }] } }, 1 << 30), 1 << 30);
});

test('a missing ConfigMap keeps the pod waiting with FailedMount; once it exists the volumes are set up, refreshed, and torn down', async () => {
  const uid = 'uid-cm';
  const pod = podWith(uid, [
    { name: 'scratch', emptyDir: {} },
    { name: 'fast', emptyDir: { medium: 'Memory', sizeLimit: '8Mi' } },
    { name: 'config', configMap: { name: 'app', items: [{ key: 'conf', path: 'etc/app.conf', mode: 0o600 }] } },
    { name: 'creds', secret: { secretName: 'creds' } },
    { name: 'info', downwardAPI: { items: [{ path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } }] } },
  ]);
  secrets.set('default/creds', { metadata: { name: 'creds' }, data: { token: Buffer.from('t0k').toString('base64') } });
  const signal = AbortSignal.timeout(10_000);

  const retry = await volumes.prepare(pod, signal);
  assert.equal(retry, 500);
  assert.equal(await volumes.prepare(pod, signal), 1000, 'the retry backs off');
  const message = 'MountVolume.SetUp failed for volume "config" : configmap "app" not found';
  assert.deepEqual(reasons.forPod(uid).get('c'), { reason: 'ContainerCreating', message });
  assert.equal(events.at(-1), `Warning FailedMount ${message}`);

  configMaps.set('default/app', { metadata: { name: 'app' }, data: { conf: 'v=1' } });
  assert.equal(await volumes.prepare(pod, signal), undefined);
  assert.equal(reasons.forPod(uid).get('c'), undefined, 'the waiting reason is cleared');
  const dir = (plugin: Parameters<typeof volumeDir>[2], name: string) => volumeDir(root, uid, plugin, name);
  assert.equal(await readFile(path.join(dir('configmap', 'config'), 'etc/app.conf'), 'utf8'), 'v=1');
  assert.equal((await stat(path.join(dir('configmap', 'config'), 'etc/app.conf'))).mode & 0o777, 0o600);
  assert.equal(await readFile(path.join(dir('secret', 'creds'), 'token'), 'utf8'), 't0k');
  assert.equal(await readFile(path.join(dir('downward-api', 'info'), 'labels'), 'utf8'), 'app="demo"');
  assert.equal((await stat(dir('empty-dir', 'scratch'))).mode & 0o777, 0o777);
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8');
  for (const [d, size] of [
    [dir('empty-dir', 'fast'), 'size=8192k'],
    [dir('secret', 'creds'), 'size=65536k'],
    [dir('downward-api', 'info'), 'size=65536k'],
  ]) {
    const line = mountinfo.split('\n').find((l) => l.split(' ')[4] === d);
    assert.match(line ?? '', new RegExp(`- tmpfs tmpfs .*${size}`), `${d} is a tmpfs of ${size}`);
  }
  assert.deepEqual((await mountsUnder(podDir(root, uid))).length, 3);

  // A changed ConfigMap is written again; a deleted one is reported but does not stop the pod.
  configMaps.set('default/app', { metadata: { name: 'app' }, data: { conf: 'v=2' } });
  assert.equal(await volumes.prepare(pod, signal), undefined);
  assert.equal(await readFile(path.join(dir('configmap', 'config'), 'etc/app.conf'), 'utf8'), 'v=2');
  configMaps.delete('default/app');
  assert.equal(await volumes.prepare(pod, signal), undefined);
  assert.equal(events.at(-1), `Warning FailedMount ${message}`);
  assert.equal(await readFile(path.join(dir('configmap', 'config'), 'etc/app.conf'), 'utf8'), 'v=2', 'the last contents stay');

  await volumes.tearDown(uid, signal);
  assert.deepEqual(await mountsUnder(podDir(root, uid)), []);
  assert.equal(existsSync(podDir(root, uid)), false);
  await volumes.tearDown(uid, signal);
});

test('orphaned pod directories are unmounted and removed; the ones to keep stay', async () => {
  const signal = AbortSignal.timeout(10_000);
  for (const uid of ['keep', 'orphan']) {
    assert.equal(await volumes.prepare(podWith(uid, [{ name: 'm', emptyDir: { medium: 'Memory' } }]), signal), undefined);
  }
  assert.deepEqual(await volumes.removeOrphans(new Set(['keep']), signal), ['orphan']);
  assert.equal(existsSync(podDir(root, 'orphan')), false);
  assert.deepEqual(await mountsUnder(podDir(root, 'orphan')), []);
  assert.equal((await mountsUnder(podDir(root, 'keep'))).length, 1);
  await volumes.tearDown('keep', signal);
});

test('hostPath type failures and unsupported sources are reported as FailedMount', async () => {
  const uid = 'uid-bad';
  const pod = podWith(uid, [
    { name: 'h', hostPath: { path: path.join(root, 'nope'), type: 'Directory' } },
    { name: 'pvc', persistentVolumeClaim: { claimName: 'x' } },
  ]);
  const failures = await volumes.setUp(pod, AbortSignal.timeout(10_000));
  assert.deepEqual(
    failures.map((f) => [f.message, f.blocking]),
    [
      [`MountVolume.SetUp failed for volume "h" : hostPath ${path.join(root, 'nope')} doesn't exist`, true],
      [
        'MountVolume.SetUp failed for volume "pvc" : volume source persistentVolumeClaim is not supported by berth node (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected)',
        true,
      ],
    ],
  );
  await volumes.tearDown(uid);
});

test('fsGroup: the volumes get the group, group access and setgid directories; hostPath is left alone', async () => {
  const uid = 'uid-fsgroup';
  const hostDir = path.join(root, 'host-untouched');
  await mkdir(hostDir);
  const before = await stat(hostDir);
  configMaps.set('default/owned', { metadata: { name: 'owned' }, data: { key: 'v' } });
  const pod: Pod = {
    ...podWith(uid, [
      { name: 'scratch', emptyDir: {} },
      { name: 'config', configMap: { name: 'owned', defaultMode: 0o400 } },
      { name: 'host', hostPath: { path: hostDir } },
    ]),
  };
  pod.spec.securityContext = { fsGroup: 4321 };
  const signal = AbortSignal.timeout(10_000);
  assert.equal(await volumes.prepare(pod, signal), undefined);
  const scratch = await stat(volumeDir(root, uid, 'empty-dir', 'scratch'));
  assert.deepEqual([scratch.gid, (scratch.mode & 0o7777).toString(8)], [4321, '2777']);
  const file = await stat(path.join(volumeDir(root, uid, 'configmap', 'config'), 'key'));
  assert.deepEqual([file.gid, (file.mode & 0o7777).toString(8)], [4321, '440']);
  const after = await stat(hostDir);
  assert.deepEqual([after.gid, after.mode], [before.gid, before.mode]);
  await volumes.tearDown(uid, signal);
});
