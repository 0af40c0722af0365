import assert from 'node:assert/strict';
import { test } from 'node:test';
import { containerEnv } from './container-env.ts';
import type { Container, Pod, Service, ServicePort } from './k8s-types.ts';
import type { ServiceSource } from './provider.ts';
import { podServiceEnv, serviceEnvFrom, serviceVariablePrefix, serviceVariables } from './service-env.ts';

const service = (namespace: string, name: string, clusterIP: string, ports: ServicePort[] = []): Service => ({
  metadata: { namespace, name },
  spec: { clusterIP, ports },
});

const KUBERNETES = service('default', 'kubernetes', '10.96.0.1', [{ name: 'https', port: 443, protocol: 'TCP' }]);

test('names: dashes become underscores, upper case', () => {
  assert.equal(serviceVariablePrefix('my-web-svc'), 'MY_WEB_SVC');
  assert.equal(serviceVariablePrefix('db'), 'DB');
});

test('a service with named ports and protocols: the kubelet variables', () => {
  const vars = serviceVariables(
    service('shop', 'my-db', '10.96.3.4', [
      { port: 5432 },
      { name: 'metrics-http', port: 9187, protocol: 'TCP' },
      { name: 'dns', port: 53, protocol: 'UDP' },
    ]),
  );
  assert.deepEqual(Object.fromEntries(vars), {
    MY_DB_SERVICE_HOST: '10.96.3.4',
    MY_DB_SERVICE_PORT: '5432',
    MY_DB_SERVICE_PORT_METRICS_HTTP: '9187',
    MY_DB_SERVICE_PORT_DNS: '53',
    MY_DB_PORT: 'tcp://10.96.3.4:5432',
    MY_DB_PORT_5432_TCP: 'tcp://10.96.3.4:5432',
    MY_DB_PORT_5432_TCP_PROTO: 'tcp',
    MY_DB_PORT_5432_TCP_PORT: '5432',
    MY_DB_PORT_5432_TCP_ADDR: '10.96.3.4',
    MY_DB_PORT_9187_TCP: 'tcp://10.96.3.4:9187',
    MY_DB_PORT_9187_TCP_PROTO: 'tcp',
    MY_DB_PORT_9187_TCP_PORT: '9187',
    MY_DB_PORT_9187_TCP_ADDR: '10.96.3.4',
    MY_DB_PORT_53_UDP: 'udp://10.96.3.4:53',
    MY_DB_PORT_53_UDP_PROTO: 'udp',
    MY_DB_PORT_53_UDP_PORT: '53',
    MY_DB_PORT_53_UDP_ADDR: '10.96.3.4',
  });
  assert.equal(vars.length, 17);
});

test('an IPv6 cluster IP is bracketed in the URLs', () => {
  const vars = Object.fromEntries(serviceVariables(service('a', 'v6', 'fd00::10', [{ port: 80, protocol: 'SCTP' }])));
  assert.equal(vars.V6_PORT, 'sctp://[fd00::10]:80');
  assert.equal(vars.V6_PORT_80_SCTP_ADDR, 'fd00::10');
});

test('the kubernetes service always; the namespace services only with service links; headless and other namespaces never', () => {
  const services = [
    KUBERNETES,
    service('default', 'other-default', '10.96.0.9', [{ port: 1 }]),
    service('shop', 'web', '10.96.1.1', [{ port: 80 }]),
    service('shop', 'headless', 'None', [{ port: 80 }]),
    service('shop', 'external', '', []),
    service('elsewhere', 'far', '10.96.2.2', [{ port: 80 }]),
  ];
  const withLinks = serviceEnvFrom('shop', true, services);
  assert.equal(withLinks.get('KUBERNETES_SERVICE_HOST'), '10.96.0.1');
  assert.equal(withLinks.get('KUBERNETES_SERVICE_PORT'), '443');
  assert.equal(withLinks.get('KUBERNETES_SERVICE_PORT_HTTPS'), '443');
  assert.equal(withLinks.get('KUBERNETES_PORT'), 'tcp://10.96.0.1:443');
  assert.equal(withLinks.get('WEB_SERVICE_HOST'), '10.96.1.1');
  for (const absent of ['HEADLESS_SERVICE_HOST', 'EXTERNAL_SERVICE_HOST', 'FAR_SERVICE_HOST', 'OTHER_DEFAULT_SERVICE_HOST']) {
    assert.equal(withLinks.has(absent), false, absent);
  }
  const without = serviceEnvFrom('shop', false, services);
  assert.deepEqual(
    [...without.keys()].filter((k) => !k.startsWith('KUBERNETES_')),
    [],
  );
  assert.equal(without.get('KUBERNETES_SERVICE_HOST'), '10.96.0.1');
});

test("a namespace's own kubernetes service replaces the master one", () => {
  const env = serviceEnvFrom('shop', true, [KUBERNETES, service('shop', 'kubernetes', '10.96.7.7', [{ port: 8443 }])]);
  assert.equal(env.get('KUBERNETES_SERVICE_HOST'), '10.96.7.7');
  assert.equal(env.get('KUBERNETES_SERVICE_PORT'), '8443');
});

function sourceOf(services: Service[]): ServiceSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async listServices(namespace) {
      asked.push(namespace);
      return services.filter((s) => s.metadata.namespace === namespace);
    },
  };
}

const pod = (container: Container, enableServiceLinks?: boolean): Pod => ({
  metadata: { name: 'p', namespace: 'shop', uid: 'u1' },
  spec: { containers: [container], ...(enableServiceLinks !== undefined ? { enableServiceLinks } : {}) },
});

test('podServiceEnv asks for default and the namespace; only default without service links; nothing without a source', async () => {
  const signal = new AbortController().signal;
  const source = sourceOf([KUBERNETES, service('shop', 'web', '10.96.1.1', [{ port: 80 }])]);
  const c: Container = { name: 'c', image: 'i' };
  assert.equal((await podServiceEnv(pod(c), source, signal)).get('WEB_SERVICE_PORT'), '80');
  assert.deepEqual(source.asked, ['default', 'shop']);
  source.asked.length = 0;
  assert.equal((await podServiceEnv(pod(c, false), source, signal)).has('WEB_SERVICE_PORT'), false);
  assert.deepEqual(source.asked, ['default']);
  assert.equal((await podServiceEnv(pod(c), undefined, signal)).size, 0);
});

test('containerEnv: explicit env and envFrom win over service variables, which $(VAR) expansion sees', async () => {
  const source = sourceOf([KUBERNETES, service('shop', 'web', '10.96.1.1', [{ port: 80 }])]);
  const c: Container = {
    name: 'c',
    image: 'i',
    env: [
      { name: 'WEB_SERVICE_PORT', value: '8080' },
      { name: 'API', value: 'https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)' },
    ],
  };
  const env = await containerEnv(pod(c), c, {}, { services: source });
  const byName = Object.fromEntries(env.map((e) => [e.name, e.value]));
  assert.equal(byName.WEB_SERVICE_PORT, '8080');
  assert.equal(byName.WEB_SERVICE_HOST, '10.96.1.1');
  assert.equal(byName.API, 'https://10.96.0.1:443');
  assert.equal(env.filter((e) => e.name === 'WEB_SERVICE_PORT').length, 1);
});

test('containerEnv: a failing service list fails the environment', async () => {
  const c: Container = { name: 'c', image: 'i' };
  const failing: ServiceSource = {
    listServices: async () => {
      throw new Error('cannot construct the service environment variables: listing the services of default: boom');
    },
  };
  await assert.rejects(containerEnv(pod(c), c, {}, { services: failing }), /listing the services of default: boom/);
});
