// A projected volume through PodVolumes: on a tmpfs, written atomically, a refreshed token
// rewritten, torn down with nothing left; without a token source it fails with FailedMount.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Pod } from '../../../agent/k8s-types.ts';
import { ServiceAccountTokenManager, type TokenRequestSpec } from '../../../agent/service-account-tokens.ts';
import { listMountPoints } from '../../../snapshot/mount.ts';
import { silentLogger } from '../../../util/logger.ts';
import { SyncReasons } from '../sync-reasons.ts';
import { PodVolumes } from './pod-volumes.ts';
import { NO_TOKEN_SOURCE } from './projected.ts';
import { podDir, volumeDir } from './volume-paths.ts';

let root: string;
const clock = { now: Date.parse('2026-03-01T00:00:00Z') };
let issued = 0;
const tokens = new ServiceAccountTokenManager(
  {
    async requestToken(_ns: string, _account: string, spec: TokenRequestSpec) {
      issued++;
      return { token: `jwt-${issued}`, expirationTimestamp: new Date(clock.now + spec.expirationSeconds * 1000).toISOString() };
    },
  },
  { now: () => clock.now, jitterMs: () => 0 },
);
const events: string[] = [];
const deps = () => ({
  nodeMemoryBytes: 1 << 30,
  configMaps: {
    getConfigMap: async (_ns: string, name: string) =>
      name === 'kube-root-ca.crt' ? { metadata: { name }, data: { 'ca.crt': 'ROOT-CA' } } : undefined,
  },
  reasons: new SyncReasons(),
  events: { podEvent: (_pod: Pod, type: string, reason: string, message: string) => events.push(`${type} ${reason} ${message}`) },
  logger: silentLogger(),
});

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'berth-projected-'));
});

after(async () => {
  for (const m of (await listMountPoints()).filter((p) => p.startsWith(`${root}/`))) assert.fail(`left mounted: ${m}`);
  await rm(root, { recursive: true, force: true });
});

function kubeApiAccessPod(uid: string): Pod {
  return {
    metadata: { name: 'web', namespace: 'shop', uid },
    spec: {
      serviceAccountName: 'default',
      containers: [{ name: 'c', image: 'i' }],
      volumes: [
        {
          name: 'kube-api-access-x1',
          projected: {
            defaultMode: 0o644,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
      ],
    },
  };
}

test('set up on a tmpfs, the token refreshed after 80 % of its lifetime, torn down with nothing left', async () => {
  const volumes = new PodVolumes({ ...deps(), rootDir: root, tokens });
  const pod = kubeApiAccessPod('uid-proj');
  const dir = volumeDir(root, 'uid-proj', 'projected', 'kube-api-access-x1');
  const signal = new AbortController().signal;
  assert.equal(await volumes.prepare(pod, signal), undefined);
  assert.ok((await listMountPoints()).includes(dir), 'a tmpfs');
  assert.equal(await readFile(path.join(dir, 'token'), 'utf8'), 'jwt-1');
  assert.equal(await readFile(path.join(dir, 'ca.crt'), 'utf8'), 'ROOT-CA');
  assert.equal(await readFile(path.join(dir, 'namespace'), 'utf8'), 'shop');
  assert.equal((await stat(path.join(dir, 'token'))).mode & 0o777, 0o644);
  clock.now += 2000_000;
  await volumes.prepare(pod, signal);
  assert.equal(await readFile(path.join(dir, 'token'), 'utf8'), 'jwt-1', 'not yet due');
  clock.now += 900_000;
  await volumes.prepare(pod, signal);
  assert.equal(await readFile(path.join(dir, 'token'), 'utf8'), 'jwt-2', 'rewritten after 80 % of 3607 s');
  assert.equal(tokens.size, 1);
  await volumes.tearDown('uid-proj');
  assert.equal(existsSync(podDir(root, 'uid-proj')), false);
  assert.equal(tokens.size, 0, 'the pod’s tokens are forgotten');
});

test('without a token source (standalone) the pod waits with FailedMount', async () => {
  const d = deps();
  const volumes = new PodVolumes({ ...d, rootDir: root });
  const pod = kubeApiAccessPod('uid-standalone');
  const retry = await volumes.prepare(pod, new AbortController().signal);
  assert.ok(retry !== undefined && retry > 0);
  const message = `MountVolume.SetUp failed for volume "kube-api-access-x1" : failed to fetch token: ${NO_TOKEN_SOURCE}`;
  assert.ok(events.includes(`Warning FailedMount ${message}`), events.join('\n'));
  assert.deepEqual(d.reasons.forPod('uid-standalone').get('c'), { reason: 'ContainerCreating', message });
  await volumes.tearDown('uid-standalone');
  assert.equal(existsSync(podDir(root, 'uid-standalone')), false);
});
