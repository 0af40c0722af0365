import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Pod } from '../../agent/k8s-types.ts';
import { etcHostsPath, hostNetworkHostsContent, hostsFileMount, managedHostsContent, podHostnameAndDomain } from './hosts-file.ts';

const LOCAL = [
  '# Kubernetes-managed hosts file.',
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'fe00::0\tip6-mcastprefix',
  'fe00::1\tip6-allnodes',
  'fe00::2\tip6-allrouters',
];

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'berth-hosts-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const pod = (spec: Partial<Pod['spec']> = {}, name = 'web'): Pod => ({
  metadata: { name, namespace: 'shop', uid: 'uid-1' },
  spec: { containers: [{ name: 'main', image: 'busybox' }], ...spec },
});

test('pod network: localhost lines, then each pod IP with the hostname', () => {
  assert.equal(managedHostsContent(['10.0.0.5', 'fd00::5'], 'web', ''), `${[...LOCAL, '10.0.0.5\tweb', 'fd00::5\tweb'].join('\n')}\n`);
});

test('a subdomain puts the FQDN first on each pod IP line', () => {
  const { hostname, domain } = podHostnameAndDomain(pod({ hostname: 'db-0', subdomain: 'db', setHostnameAsFQDN: true }), 'cluster.local');
  assert.deepEqual({ hostname, domain }, { hostname: 'db-0', domain: 'db.shop.svc.cluster.local' });
  assert.equal(
    managedHostsContent(['10.0.0.5'], hostname, domain),
    `${[...LOCAL, '10.0.0.5\tdb-0.db.shop.svc.cluster.local\tdb-0'].join('\n')}\n`,
  );
  // No subdomain: no domain; a long pod name is cut to 63 characters without a trailing dash.
  const long = `${'a'.repeat(62)}-b`;
  assert.deepEqual(podHostnameAndDomain(pod({}, long), 'cluster.local'), { hostname: 'a'.repeat(62), domain: '' });
});

test('host aliases follow after a blank line and a comment, one line per IP', () => {
  const aliases = [
    { ip: '10.1.2.3', hostnames: ['foo.local', 'bar.local'] },
    { ip: '2001:db8::1', hostnames: ['six'] },
  ];
  assert.equal(
    managedHostsContent(['10.0.0.5'], 'web', '', aliases),
    `${[...LOCAL, '10.0.0.5\tweb', '', '# Entries added by HostAliases.', '10.1.2.3\tfoo.local\tbar.local', '2001:db8::1\tsix'].join('\n')}\n`,
  );
  assert.equal(
    hostNetworkHostsContent('127.0.0.1 localhost\n', aliases.slice(0, 1)),
    '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n',
  );
});

test('hostsFileMount writes <podDir>/etc-hosts (0644) and mounts it read-write at /etc/hosts', async () => {
  const p = pod({ hostAliases: [{ ip: '10.9.9.9', hostnames: ['alias'] }] });
  const mount = await hostsFileMount(p, p.spec.containers[0]!, ['10.0.0.7'], { rootDir: root, clusterDomain: 'cluster.local' });
  const file = etcHostsPath(root, 'uid-1');
  assert.equal(file, path.join(root, 'pods', 'uid-1', 'etc-hosts'));
  assert.deepEqual(mount, { containerPath: '/etc/hosts', hostPath: file, readonly: false });
  assert.equal((await stat(file)).mode & 0o777, 0o644);
  const text = await readFile(file, 'utf8');
  assert.match(text, /^10\.0\.0\.7\tweb$/m);
  assert.match(text, /^10\.9\.9\.9\talias$/m);
});

test('host network: the node file is copied under its own header; no pod IP is needed', async () => {
  const nodeHosts = path.join(root, 'node-hosts');
  await writeFile(nodeHosts, '127.0.0.1 localhost\n192.168.1.1 gateway\n');
  const p = pod({ hostNetwork: true, hostAliases: [{ ip: '10.9.9.9', hostnames: ['alias'] }] });
  await hostsFileMount(p, p.spec.containers[0]!, [], { rootDir: root, clusterDomain: 'cluster.local', nodeHostsFile: nodeHosts });
  assert.equal(
    await readFile(etcHostsPath(root, 'uid-1'), 'utf8'),
    '# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n192.168.1.1 gateway\n\n# Entries added by HostAliases.\n10.9.9.9\talias\n',
  );
});

test('no mount without a pod IP on the pod network, nor for a container that mounts /etc/hosts itself', async () => {
  const p = pod();
  const settings = { rootDir: root, clusterDomain: 'cluster.local' };
  assert.equal(await hostsFileMount(p, p.spec.containers[0]!, [], settings), undefined);
  const own = { name: 'main', image: 'busybox', volumeMounts: [{ name: 'h', mountPath: '/etc/hosts' }] };
  assert.equal(await hostsFileMount(p, own, ['10.0.0.7'], settings), undefined);
});
