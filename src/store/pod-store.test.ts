import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { create, equals } from '@bufbuild/protobuf';
import { ContainerConfigSchema, NamespaceMode, PodSandboxConfigSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { MetadataStore } from './metadata-store.ts';
import { type ContainerRecord, PodStore, type SandboxRecord } from './pod-store.ts';

const podConfig = create(PodSandboxConfigSchema, {
  metadata: { name: 'web', uid: 'u1', namespace: 'default', attempt: 1 },
  logDirectory: '/var/log/pods/web',
  portMappings: [{ containerPort: 80, hostPort: 8080 }],
  linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER }, runAsUser: { value: 1000n } } },
});

const containerConfig = create(ContainerConfigSchema, {
  metadata: { name: 'nginx', attempt: 0 },
  image: { image: 'nginx:1' },
  envs: [
    { key: 'GREETING', value: new TextEncoder().encode('hello') },
    { key: 'EMPTY', value: new Uint8Array() },
  ],
  stdin: true,
  linux: { resources: { memoryLimitInBytes: 64n * 1024n * 1024n, cpuShares: 512n } },
});

const sandbox: SandboxRecord = {
  id: 's1',
  name: 'k8s_POD_web_default_u1_1',
  metadata: { name: 'web', uid: 'u1', namespace: 'default', attempt: 1 },
  state: 'ready',
  createdAt: '1',
  labels: {},
  annotations: {},
  runtimeHandler: 'runc',
  config: podConfig,
  namespaces: { net: '/run/berth/ns/s1/net' },
  hostNetwork: false,
  ips: ['10.0.0.2'],
  cgroupParent: '',
  files: { dir: '/run/berth/pods/s1' },
  networkAttached: true,
};

const container: ContainerRecord = {
  id: 'c1',
  sandboxId: 's1',
  name: 'k8s_nginx_web_default_u1_0',
  metadata: { name: 'nginx', attempt: 0 },
  state: 'created',
  createdAt: '2',
  startedAt: '0',
  finishedAt: '0',
  exitCode: 0,
  reason: '',
  message: '',
  labels: {},
  annotations: {},
  image: { spec: 'nginx:1', id: 'sha256:1', ref: 'sha256:1' },
  logPath: '',
  config: containerConfig,
  runtimeHandler: 'runc',
  bundle: '/run/berth/containers/c1',
  snapshotKey: 'container-c1',
  pid: 0,
  conmonPid: 0,
  cgroupsPath: '',
};

function tempDb(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-pod-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'meta.db');
}

test('records come back from the metadata store with their CRI configs as messages', (t) => {
  const file = tempDb(t);
  const meta = new MetadataStore(file);
  const store = new PodStore(meta);
  store.putSandbox(sandbox);
  store.putContainer(container);
  meta.close();

  const reopened = new MetadataStore(file);
  t.after(() => reopened.close());
  const again = new PodStore(reopened);
  const s = again.getSandbox('s1');
  const c = again.getContainer('c1');
  assert.ok(s && c);
  assert.ok(equals(PodSandboxConfigSchema, s.config, podConfig));
  assert.ok(equals(ContainerConfigSchema, c.config, containerConfig));
  assert.equal(s.config.linux?.securityContext?.runAsUser?.value, 1000n);
  assert.equal(new TextDecoder().decode(c.config.envs[0]?.value), 'hello');
  assert.deepEqual({ ...c, config: undefined }, { ...container, config: undefined });
});

test('rows written before configs were kept as protojson still load', (t) => {
  const file = tempDb(t);
  const meta = new MetadataStore(file);
  // What earlier versions wrote: the message through JSON.stringify, bigints as strings.
  const legacy = (v: unknown) => JSON.parse(JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)));
  meta.put('sandbox', 's1', legacy(sandbox));
  meta.put('container', 'c1', legacy(container));
  const store = new PodStore(meta);
  t.after(() => meta.close());
  assert.ok(equals(PodSandboxConfigSchema, store.getSandbox('s1')!.config, podConfig));
  assert.ok(equals(ContainerConfigSchema, store.getContainer('c1')!.config, containerConfig));
});
