import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../errors/errors.ts';
import { containerEnv, type EnvSources, expandCommandAndArgs } from './container-env.ts';
import type { ConfigMap, Container, Pod, Secret } from './k8s-types.ts';

function pod(container: Container): Pod {
  return {
    metadata: { name: 'web', namespace: 'prod', uid: 'u-1', labels: { app: 'web' }, annotations: { 'a.b/c': 'd' } },
    spec: { nodeName: 'node-a', containers: [container] },
  };
}

test('values expand over the variables defined before them', async () => {
  const c: Container = {
    name: 'c',
    env: [
      { name: 'LATER', value: '$(FIRST)-late' },
      { name: 'FIRST', value: 'one' },
      { name: 'SECOND', value: '$(FIRST)-two' },
      { name: 'ESCAPED', value: '$$(FIRST)' },
      { name: 'UNKNOWN', value: '$(NOPE)' },
    ],
  };
  assert.deepEqual(await containerEnv(pod(c), c), [
    { name: 'LATER', value: '$(FIRST)-late' },
    { name: 'FIRST', value: 'one' },
    { name: 'SECOND', value: 'one-two' },
    { name: 'ESCAPED', value: '$(FIRST)' },
    { name: 'UNKNOWN', value: '$(NOPE)' },
  ]);
});

test('a later duplicate replaces the value and keeps the position', async () => {
  const c: Container = {
    name: 'c',
    env: [
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
      { name: 'A', value: '$(A)$(B)' },
    ],
  };
  assert.deepEqual(await containerEnv(pod(c), c), [
    { name: 'A', value: '12' },
    { name: 'B', value: '2' },
  ]);
});

test('fieldRef reads the downward API', async () => {
  const c: Container = {
    name: 'c',
    env: [
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'UID', valueFrom: { fieldRef: { fieldPath: 'metadata.uid' } } },
      { name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
      { name: 'HOST', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
      { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: 'ANN', valueFrom: { fieldRef: { fieldPath: "metadata.annotations['a.b/c']" } } },
      { name: 'GREETING', value: 'hi $(POD) on $(NODE)' },
    ],
  };
  const env = Object.fromEntries(
    (await containerEnv(pod(c), c, { podIPs: ['10.99.0.5'], hostIPs: ['192.0.2.1'] })).map((e) => [e.name, e.value]),
  );
  assert.deepEqual(env, {
    POD: 'web',
    NS: 'prod',
    UID: 'u-1',
    NODE: 'node-a',
    IP: '10.99.0.5',
    HOST: '192.0.2.1',
    APP: 'web',
    ANN: 'd',
    GREETING: 'hi web on node-a',
  });
});

test('command and args expand over the whole environment', () => {
  const c: Container = { name: 'c', command: ['sh', '-c', 'echo $(MSG) $$(MSG)'], args: ['$(MSG)', '$(NONE)'] };
  assert.deepEqual(expandCommandAndArgs(c, [{ name: 'MSG', value: 'hello' }]), {
    command: ['sh', '-c', 'echo hello $(MSG)'],
    args: ['hello', '$(NONE)'],
  });
});

const configMaps: Record<string, ConfigMap> = {
  settings: {
    metadata: { name: 'settings', namespace: 'prod' },
    data: { MODE: 'fast', 'log.level': 'debug', '1st': 'x', URL: 'http://$(HOST)' },
  },
};
const secrets: Record<string, Secret> = {
  creds: {
    metadata: { name: 'creds', namespace: 'prod' },
    data: { PASSWORD: Buffer.from('s3cr3t').toString('base64'), 'bad key': 'eA==' },
  },
};

function sources(): EnvSources & { invalid: string[]; reads: string[] } {
  const invalid: string[] = [];
  const reads: string[] = [];
  return {
    invalid,
    reads,
    configMaps: {
      async getConfigMap(namespace, name) {
        reads.push(`configmap ${namespace}/${name}`);
        return namespace === 'prod' ? configMaps[name] : undefined;
      },
    },
    secrets: {
      async getSecret(namespace, name) {
        reads.push(`secret ${namespace}/${name}`);
        return namespace === 'prod' ? secrets[name] : undefined;
      },
    },
    allocatable: { cpu: '2', memory: '1Gi' },
    onInvalidNames: (message) => invalid.push(message),
  };
}

async function envOf(c: Container, s: EnvSources = sources()): Promise<Record<string, string>> {
  return Object.fromEntries((await containerEnv(pod(c), c, {}, s)).map((e) => [e.name, e.value]));
}

test('envFrom brings every valid key, with the prefix; invalid names are skipped and reported', async () => {
  const s = sources();
  const c: Container = {
    name: 'c',
    envFrom: [{ configMapRef: { name: 'settings' } }, { prefix: 'DB_', secretRef: { name: 'creds' } }],
    env: [{ name: 'MODE', value: 'slow-$(DB_PASSWORD)' }],
  };
  assert.deepEqual(await envOf(c, s), {
    URL: 'http://$(HOST)',
    'log.level': 'debug',
    MODE: 'slow-s3cr3t',
    DB_PASSWORD: 's3cr3t',
  });
  assert.deepEqual(s.invalid, [
    'Keys [1st] from the EnvFrom configMap prod/settings were skipped since they are considered invalid environment variable names.',
    'Keys [DB_bad key] from the EnvFrom secret prod/creds were skipped since they are considered invalid environment variable names.',
  ]);
});

test('configMapKeyRef and secretKeyRef read one key; each object is read once per computation', async () => {
  const s = sources();
  const c: Container = {
    name: 'c',
    env: [
      { name: 'A', valueFrom: { configMapKeyRef: { name: 'settings', key: 'MODE' } } },
      { name: 'B', valueFrom: { configMapKeyRef: { name: 'settings', key: 'log.level' } } },
      { name: 'P', valueFrom: { secretKeyRef: { name: 'creds', key: 'PASSWORD' } } },
      { name: 'BOTH', value: '$(A)/$(P)' },
    ],
  };
  assert.deepEqual(await envOf(c, s), { A: 'fast', B: 'debug', P: 's3cr3t', BOTH: 'fast/s3cr3t' });
  assert.deepEqual(s.reads, ['configmap prod/settings', 'secret prod/creds']);
});

test('optional references to missing objects or keys leave the variable out (or as envFrom set it)', async () => {
  const c: Container = {
    name: 'c',
    envFrom: [{ configMapRef: { name: 'absent', optional: true } }, { configMapRef: { name: 'settings' } }],
    env: [
      { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'nope', optional: true } } },
      { name: 'X', valueFrom: { configMapKeyRef: { name: 'absent', key: 'k', optional: true } } },
      { name: 'Y', valueFrom: { secretKeyRef: { name: 'absent', key: 'k', optional: true } } },
      { name: 'Z', valueFrom: { secretKeyRef: { name: 'creds', key: 'nope', optional: true } } },
    ],
  };
  assert.deepEqual(await envOf(c), { URL: 'http://$(HOST)', 'log.level': 'debug', MODE: 'fast' });
});

test('missing objects and keys are errors worded as the kubelet words them', async () => {
  const cases: [Container['env'] | undefined, Container['envFrom'] | undefined, string][] = [
    [[{ name: 'A', valueFrom: { configMapKeyRef: { name: 'gone', key: 'k' } } }], undefined, 'configmap "gone" not found'],
    [
      [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'settings', key: 'k' } } }],
      undefined,
      "couldn't find key k in ConfigMap prod/settings",
    ],
    [[{ name: 'A', valueFrom: { secretKeyRef: { name: 'gone', key: 'k' } } }], undefined, 'secret "gone" not found'],
    [[{ name: 'A', valueFrom: { secretKeyRef: { name: 'creds', key: 'k' } } }], undefined, "couldn't find key k in Secret prod/creds"],
    [undefined, [{ secretRef: { name: 'gone' } }], 'secret "gone" not found'],
  ];
  for (const [env, envFrom, message] of cases) {
    const c: Container = { name: 'c', env, envFrom };
    await assert.rejects(envOf(c), (e: unknown) => isBerthError(e) && e.message === message, message);
  }
  const c: Container = { name: 'c', env: [{ name: 'A', valueFrom: { configMapKeyRef: { name: 'settings', key: 'MODE' } } }] };
  await assert.rejects(envOf(c, {}), /couldn't get configMap prod\/settings, no ConfigMap source defined/);
});

test('resourceFieldRef reads the container resources, limits defaulting to the node allocatable', async () => {
  const c: Container = {
    name: 'c',
    resources: { requests: { cpu: '250m', memory: '64Mi' }, limits: { memory: '128Mi' } },
    env: [
      { name: 'CPU_REQ', valueFrom: { resourceFieldRef: { resource: 'requests.cpu', divisor: '1m' } } },
      { name: 'CPU_LIM', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
      { name: 'MEM_LIM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
      { name: 'MEM_REQ', valueFrom: { resourceFieldRef: { containerName: 'c', resource: 'requests.memory' } } },
    ],
  };
  assert.deepEqual(await envOf(c), { CPU_REQ: '250', CPU_LIM: '2', MEM_LIM: '128', MEM_REQ: String(64 * 2 ** 20) });
});

test('an aborted signal stops the computation', async () => {
  const controller = new AbortController();
  controller.abort();
  const c: Container = { name: 'c', env: [{ name: 'A', value: 'a' }] };
  await assert.rejects(containerEnv(pod(c), c, {}, sources(), controller.signal), { name: 'AbortError' });
});
