import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ContainerConfigSchema, NamespaceMode, PodSandboxConfigSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { isBerthError } from '../errors/errors.ts';
import { loadContainerConfig, loadPodSandboxConfig, parseConfig } from './pod-config.ts';

test('pod configs in YAML with the CRI field names, as crictl reads them', () => {
  const config = parseConfig(
    PodSandboxConfigSchema,
    `
metadata:
  name: web
  namespace: default
  uid: abc-123
  attempt: 1
log_directory: /var/log/pods/web
dns_config:
  servers: [10.0.0.10]
port_mappings:
  - {protocol: 0, container_port: 80, host_port: 8080}
linux:
  cgroup_parent: /berth
  security_context:
    namespace_options:
      pid: 1
      network: NODE
`,
    'pod.yaml',
  );
  assert.equal(config.metadata?.name, 'web');
  assert.equal(config.logDirectory, '/var/log/pods/web');
  assert.deepEqual(config.dnsConfig?.servers, ['10.0.0.10']);
  assert.equal(config.portMappings[0]?.hostPort, 8080);
  assert.equal(config.linux?.cgroupParent, '/berth');
  assert.equal(config.linux?.securityContext?.namespaceOptions?.pid, NamespaceMode.CONTAINER);
  assert.equal(config.linux?.securityContext?.namespaceOptions?.network, NamespaceMode.NODE);
});

test('container configs in JSON, proto names or JSON names', () => {
  const config = parseConfig(
    ContainerConfigSchema,
    JSON.stringify({
      metadata: { name: 'main' },
      image: { image: 'busybox:1.36' },
      command: ['sh', '-c', 'echo hi'],
      envs: [
        { key: 'A', value: 'b' },
        { key: 'B', value: 'aGk=' },
      ],
      log_path: 'main.log',
      linux: { resources: { memoryLimitInBytes: 67108864, cpu_shares: 512 } },
    }),
    'ctr.json',
  );
  assert.equal(config.image?.image, 'busybox:1.36');
  assert.equal(config.logPath, 'main.log');
  // Environment values are text, as crictl reads them, even where they look like base64.
  assert.deepEqual(
    config.envs.map((e) => [e.key, Buffer.from(e.value).toString()]),
    [
      ['A', 'b'],
      ['B', 'aGk='],
    ],
  );
  assert.equal(config.linux?.resources?.memoryLimitInBytes, 67108864n);
  assert.equal(config.linux?.resources?.cpuShares, 512n);
});

test('bad configs are InvalidArgument errors that name the file and the problem', async () => {
  assert.throws(
    () => parseConfig(PodSandboxConfigSchema, 'metadata: {name: web}\nlog_dir: /x\n', 'pod.yaml'),
    (e: unknown) => isBerthError(e, 'invalid-argument') && /pod\.yaml: .*log_dir/.test(e.message),
  );
  assert.throws(() => parseConfig(PodSandboxConfigSchema, '[1, 2]', 'pod.yaml'), /pod\.yaml: expected an object/);
  assert.throws(() => parseConfig(PodSandboxConfigSchema, 'metadata: {name: [unclosed', 'pod.yaml'), /pod\.yaml: not valid JSON or YAML/);
  assert.throws(() => parseConfig(ContainerConfigSchema, 'linux: {resources: {cpu_shares: lots}}', 'c.yaml'), /c\.yaml/);
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-config-test-'));
  try {
    await assert.rejects(loadPodSandboxConfig(path.join(dir, 'missing.yaml')), /config at .*missing\.yaml not found/);
    await writeFile(path.join(dir, 'c.yaml'), 'metadata: {name: c}\nimage: {image: x}\n');
    assert.equal((await loadContainerConfig(path.join(dir, 'c.yaml'))).metadata?.name, 'c');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
