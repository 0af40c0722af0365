import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, PodSpec } from './k8s-types.ts';
import { type NodeDnsSettings, parseResolvConf, podDnsConfig } from './pod-dns.ts';

const hostResolver = parseResolvConf(
  [
    '# generated',
    'nameserver 192.0.2.53',
    'nameserver 192.0.2.54 ; second',
    'search old.example',
    'search corp.example. lab.example .',
    'options ndots:2 edns0',
    'options ndots:3',
  ].join('\n'),
);

function pod(spec: Partial<PodSpec> = {}): Pod {
  return { metadata: { name: 'p', namespace: 'team' }, spec: { containers: [{ name: 'c', image: 'i' }], ...spec } };
}

const standalone: NodeDnsSettings = { clusterDns: [], clusterDomain: 'cluster.local', hostResolver };
const cluster: NodeDnsSettings = { clusterDns: ['10.96.0.10'], clusterDomain: 'cluster.local', hostResolver };

test('resolv.conf: nameservers, the last search line, options merged by name', () => {
  assert.deepEqual(hostResolver, {
    servers: ['192.0.2.53', '192.0.2.54'],
    searches: ['corp.example', 'lab.example'],
    options: ['ndots:3', 'edns0'],
  });
});

test('ClusterFirst with cluster DNS: cluster servers, cluster searches first, ndots:5', () => {
  assert.deepEqual(podDnsConfig(pod(), cluster), {
    config: {
      servers: ['10.96.0.10'],
      searches: ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'lab.example'],
      options: ['ndots:5'],
    },
    warnings: [],
  });
});

test('ClusterFirst without cluster DNS falls back to the host, with a warning', () => {
  const { config, warnings } = podDnsConfig(pod(), standalone);
  assert.deepEqual(config, hostResolver);
  assert.match(warnings[0]!, /MissingClusterDNS/);
});

test('hostNetwork with ClusterFirst uses the host; ClusterFirstWithHostNet uses the cluster', () => {
  assert.deepEqual(podDnsConfig(pod({ hostNetwork: true }), cluster).config, hostResolver);
  assert.deepEqual(podDnsConfig(pod({ hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' }), cluster).config.servers, ['10.96.0.10']);
});

test('Default uses the host; without a resolv.conf, the local machine', () => {
  assert.deepEqual(podDnsConfig(pod({ dnsPolicy: 'Default' }), cluster).config, hostResolver);
  assert.deepEqual(podDnsConfig(pod({ dnsPolicy: 'Default' }), { ...cluster, hostResolver: undefined }).config, {
    servers: ['127.0.0.1'],
    searches: ['.'],
    options: [],
  });
});

test('None takes only dnsConfig; dnsConfig merges without duplicates and overrides options', () => {
  const none = pod({
    dnsPolicy: 'None',
    dnsConfig: { nameservers: ['1.1.1.1'], searches: ['a.example'], options: [{ name: 'ndots', value: '1' }] },
  });
  assert.deepEqual(podDnsConfig(none, cluster).config, { servers: ['1.1.1.1'], searches: ['a.example'], options: ['ndots:1'] });
  const merged = pod({
    dnsConfig: {
      nameservers: ['10.96.0.10', '8.8.8.8'],
      searches: ['svc.cluster.local', 'x.example'],
      options: [{ name: 'ndots', value: '2' }, { name: 'rotate' }],
    },
  });
  assert.deepEqual(podDnsConfig(merged, cluster).config, {
    servers: ['10.96.0.10', '8.8.8.8'],
    searches: ['team.svc.cluster.local', 'svc.cluster.local', 'cluster.local', 'corp.example', 'lab.example', 'x.example'],
    options: ['ndots:2', 'rotate'],
  });
});

test('limits: three nameservers, 32 search domains', () => {
  const many = pod({
    dnsPolicy: 'None',
    dnsConfig: {
      nameservers: ['1.0.0.1', '1.0.0.2', '1.0.0.3', '1.0.0.4'],
      searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`),
    },
  });
  const { config, warnings } = podDnsConfig(many, cluster);
  assert.deepEqual(config.servers, ['1.0.0.1', '1.0.0.2', '1.0.0.3']);
  assert.equal(config.searches.length, 32);
  assert.equal(warnings.length, 2);
});
