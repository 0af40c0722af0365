import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, PodSecurityContext } from '../../agent/k8s-types.ts';
import { NamespaceMode, Protocol, SecurityProfile_ProfileType } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { isBerthError } from '../../errors/errors.ts';
import { containerConfig } from './container-config.ts';
import { containerHash } from './container-hash.ts';
import { podHostname, sandboxConfig } from './sandbox-config.ts';
import { runAsNonRootViolation } from './security-context.ts';

const pod: Pod = {
  metadata: { name: 'web-node1', namespace: 'prod', uid: 'u1', labels: { app: 'web' }, annotations: { note: 'x' } },
  spec: {
    terminationGracePeriodSeconds: 5,
    securityContext: { sysctls: [{ name: 'net.ipv4.ip_unprivileged_port_start', value: '0' }], runAsUser: 1000 },
    containers: [
      {
        name: 'app',
        image: 'busybox:1.36',
        command: ['sh', '-c', 'echo $(GREETING)'],
        args: ['$(MISSING)'],
        ports: [
          { containerPort: 80, hostPort: 8080, protocol: 'TCP' },
          { containerPort: 53, protocol: 'UDP' },
        ],
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
      },
    ],
  },
};

const settings = {
  podLogsRoot: '/var/log/pods',
  dns: { servers: ['192.0.2.53'], searches: [], options: [] },
  cgroupParent: '',
  clusterDomain: 'cluster.local',
};

test('sandbox config: metadata, hostname, logs, DNS, port mappings, labels, annotations, sysctls', () => {
  const c = sandboxConfig(pod, 2, settings);
  assert.deepEqual(c.metadata, { name: 'web-node1', namespace: 'prod', uid: 'u1', attempt: 2 });
  assert.equal(c.hostname, 'web-node1');
  assert.equal(c.logDirectory, '/var/log/pods/prod_web-node1_u1');
  assert.deepEqual(c.dnsConfig, settings.dns);
  assert.deepEqual(c.portMappings, [{ protocol: Protocol.TCP, containerPort: 80, hostPort: 8080, hostIp: '' }]);
  assert.deepEqual(c.labels, {
    app: 'web',
    'io.kubernetes.pod.name': 'web-node1',
    'io.kubernetes.pod.namespace': 'prod',
    'io.kubernetes.pod.uid': 'u1',
  });
  assert.deepEqual(c.annotations, { note: 'x' });
  assert.deepEqual(c.linux?.sysctls, { 'net.ipv4.ip_unprivileged_port_start': '0' });
  assert.equal(c.linux?.securityContext?.namespaceOptions?.network, NamespaceMode.POD);
  assert.equal(c.linux?.securityContext?.runAsUser?.value, 1000n);
});

test('host network: no hostname of its own, node network namespace', () => {
  const hostPod: Pod = { ...pod, spec: { ...pod.spec, hostNetwork: true } };
  const c = sandboxConfig(hostPod, 0, settings);
  assert.equal(c.hostname, '');
  assert.equal(c.linux?.securityContext?.namespaceOptions?.network, NamespaceMode.NODE);
});

test("hostUsers: false is refused, never run in the node's user namespace", () => {
  const userns: Pod = { ...pod, spec: { ...pod.spec, hostUsers: false } };
  assert.throws(
    () => sandboxConfig(userns, 0, settings),
    (e) => isBerthError(e, 'invalid-argument') && /hostUsers: false/.test(e.message),
  );
  assert.equal(
    sandboxConfig({ ...pod, spec: { ...pod.spec, hostUsers: true } }, 0, settings).linux?.securityContext?.namespaceOptions?.usernsOptions,
    undefined,
  );
});

test('hostnames: spec.hostname, truncation, FQDN', () => {
  assert.equal(podHostname({ ...pod, spec: { ...pod.spec, hostname: 'h' } }, 'cluster.local'), 'h');
  const long = `${'a'.repeat(62)}-b`;
  assert.equal(podHostname({ ...pod, metadata: { ...pod.metadata, name: `${long}cd` } }, 'cluster.local'), 'a'.repeat(62));
  assert.equal(
    podHostname({ ...pod, spec: { ...pod.spec, subdomain: 'svc1', setHostnameAsFQDN: true } }, 'cluster.local'),
    'web-node1.svc1.prod.svc.cluster.local',
  );
});

test('container config: attempt, image, expansion, labels, annotations, log path, security', () => {
  const container = pod.spec.containers[0]!;
  const hash = containerHash(container);
  const c = containerConfig(pod, container, {
    restartCount: 3,
    imageRef: 'sha256:abc',
    env: [{ name: 'GREETING', value: 'hi' }],
    hash,
    nodeMemoryBytes: 2 ** 33,
    cgroupV2: false,
  });
  assert.deepEqual(c.metadata, { name: 'app', attempt: 3 });
  assert.deepEqual(c.image, { image: 'sha256:abc', userSpecifiedImage: 'busybox:1.36' });
  assert.deepEqual(c.command, ['sh', '-c', 'echo hi']);
  assert.deepEqual(c.args, ['$(MISSING)']);
  assert.deepEqual(
    c.envs?.map((e) => [e.key, Buffer.from(e.value ?? new Uint8Array()).toString()]),
    [['GREETING', 'hi']],
  );
  assert.equal(c.logPath, 'app/3.log');
  assert.deepEqual(c.labels, {
    'io.kubernetes.pod.name': 'web-node1',
    'io.kubernetes.pod.namespace': 'prod',
    'io.kubernetes.pod.uid': 'u1',
    'io.kubernetes.container.name': 'app',
  });
  assert.equal(c.annotations?.['io.kubernetes.container.hash'], hash);
  assert.equal(c.annotations?.['io.kubernetes.container.restartCount'], '3');
  assert.equal(c.annotations?.['io.kubernetes.pod.terminationGracePeriod'], '5');
  const sc = c.linux?.securityContext;
  assert.equal(sc?.noNewPrivs, true);
  assert.deepEqual(sc?.capabilities, { addCapabilities: [], dropCapabilities: ['ALL'] });
  assert.equal(sc?.runAsUser?.value, 1000n, 'the pod-level user applies');
  assert.equal(sc?.namespaceOptions?.pid, NamespaceMode.CONTAINER);
  assert.equal(sc?.seccomp?.profileType, SecurityProfile_ProfileType.Unconfined);
  assert.ok((sc?.maskedPaths ?? []).includes('/proc/kcore'));
  assert.equal(c.linux?.resources?.oomScoreAdj, 1000n);
});

test('a changed spec changes the hash; key order does not', () => {
  const a = { name: 'a', image: 'x:1', command: ['sleep'] };
  assert.equal(containerHash(a), containerHash({ command: ['sleep'], image: 'x:1', name: 'a' }));
  assert.notEqual(containerHash(a), containerHash({ ...a, image: 'x:2' }));
});

test('runAsNonRoot is checked against the security context, then the image', () => {
  const p = (sc: PodSecurityContext): Pod => ({ metadata: {}, spec: { securityContext: sc, containers: [{ name: 'c' }] } });
  const c = { name: 'c' };
  assert.equal(runAsNonRootViolation(p({}), c, { username: '' }), undefined);
  assert.match(runAsNonRootViolation(p({ runAsNonRoot: true, runAsUser: 0 }), c, { username: '' })!, /breaks non-root/);
  assert.equal(runAsNonRootViolation(p({ runAsNonRoot: true }), c, { uid: 1000, username: '' }), undefined);
  assert.match(runAsNonRootViolation(p({ runAsNonRoot: true }), c, { uid: 0, username: '' })!, /run as root/);
  assert.match(runAsNonRootViolation(p({ runAsNonRoot: true }), c, { username: 'app' })!, /non-numeric/);
});
