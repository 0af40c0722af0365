import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../util/logger.ts';
import { ManifestDirSource } from './manifest-dir-source.ts';
import { ManifestObjectStore } from './manifest-object-store.ts';

const manifest = (name: string, image = 'busybox:1.36') =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  containers: [{name: c, image: "${image}"}]\n`;

async function withDir(body: (dir: string, source: ManifestDirSource) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-manifests-'));
  try {
    await body(dir, new ManifestDirSource({ dir, nodeName: 'n1', logger: silentLogger() }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const signal = new AbortController().signal;
const names = (pods: { metadata: { name?: string } }[]) => pods.map((p) => p.metadata.name);

test('added, changed and removed manifests', async () => {
  await withDir(async (dir, source) => {
    assert.deepEqual(await source.scan(signal), []);
    await writeFile(path.join(dir, 'a.yaml'), manifest('a'));
    await writeFile(
      path.join(dir, 'b.json'),
      JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b' }, spec: { containers: [{ name: 'c', image: 'x:1' }] } }),
    );
    await writeFile(path.join(dir, '.hidden.yaml'), manifest('hidden'));
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub', 'c.yaml'), manifest('c'));
    const first = await source.scan(signal);
    assert.deepEqual(names(first), ['a-n1', 'b-n1']);
    const uidA = first[0]!.metadata.uid;

    await writeFile(path.join(dir, 'a.yaml'), manifest('a', 'busybox:1.37'));
    const second = await source.scan(signal);
    assert.notEqual(second[0]!.metadata.uid, uidA, 'new content, new UID');

    await unlink(path.join(dir, 'b.json'));
    assert.deepEqual(names(await source.scan(signal)), ['a-n1']);
  });
});

test('a bad manifest is reported for its own file and disturbs no other pod', async () => {
  await withDir(async (dir, source) => {
    await writeFile(path.join(dir, 'good.yaml'), manifest('good'));
    await writeFile(path.join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: bad\n');
    await writeFile(path.join(dir, 'noimage.yaml'), manifest('noimage').replace(', image: "busybox:1.36"', ''));
    assert.deepEqual(names(await source.scan(signal)), ['good-n1']);
    const problems = source.problems();
    assert.deepEqual(
      problems.map((p) => path.basename(p.file)),
      ['bad.yaml', 'noimage.yaml'],
    );
    assert.match(problems[0]!.errors[0]!, /invalid YAML/);
    assert.deepEqual(problems[1]!.errors, ['spec.containers[0].image: Required value']);
  });
});

test('a manifest that turns bad keeps its pod until fixed', async () => {
  await withDir(async (dir, source) => {
    const file = path.join(dir, 'a.yaml');
    await writeFile(file, manifest('a'));
    const [before] = await source.scan(signal);
    await writeFile(file, 'kind: [');
    const [kept] = await source.scan(signal);
    assert.equal(kept!.metadata.uid, before!.metadata.uid);
    assert.equal(source.problems().length, 1);
    await writeFile(file, manifest('a'));
    await source.scan(signal);
    assert.deepEqual(source.problems(), []);
  });
});

test('two files naming one pod: the first file wins, the second is reported', async () => {
  await withDir(async (dir, source) => {
    await writeFile(path.join(dir, '1.yaml'), manifest('same'));
    await writeFile(path.join(dir, '2.yaml'), manifest('same', 'other:2'));
    const pods = await source.scan(signal);
    assert.equal(pods.length, 1);
    assert.equal(pods[0]!.spec.containers[0]!.image, 'busybox:1.36');
    assert.match(source.problems()[0]!.errors[0]!, /Duplicate value: "same-n1".*1\.yaml/);
  });
});

test('a missing directory means no static pods', async () => {
  const source = new ManifestDirSource({ dir: path.join(tmpdir(), 'berth-does-not-exist-0'), nodeName: 'n1', logger: silentLogger() });
  assert.deepEqual(await source.scan(signal), []);
});

const configMap = (name: string, data: Record<string, string>, namespace?: string) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data });

async function withObjects(body: (dir: string, source: ManifestDirSource, store: ManifestObjectStore) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-manifests-'));
  const store = new ManifestObjectStore();
  try {
    await body(dir, new ManifestDirSource({ dir, nodeName: 'n1', logger: silentLogger(), objects: store }), store);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('ConfigMaps and Secrets beside the pods go to the store under their own names; changes and removals follow', async () => {
  await withObjects(async (dir, source, store) => {
    await writeFile(path.join(dir, 'pod.yaml'), manifest('web'));
    await writeFile(path.join(dir, 'settings.json'), configMap('settings', { MODE: 'fast' }));
    await writeFile(
      path.join(dir, 'creds.yaml'),
      'apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: prod}\nstringData: {password: s3cr3t}\n',
    );
    assert.deepEqual(names(await source.scan(signal)), ['web-n1'], 'objects are not pods');
    assert.deepEqual((await store.getConfigMap('default', 'settings', signal))?.data, { MODE: 'fast' });
    const secret = await store.getSecret('prod', 'creds', signal);
    assert.deepEqual(secret?.data, { password: Buffer.from('s3cr3t').toString('base64') });
    assert.equal(secret?.type, 'Opaque');
    assert.equal(await store.getSecret('default', 'creds', signal), undefined, 'namespaces apart');
    assert.equal(await store.getConfigMap('default', 'settings-n1', signal), undefined, 'no node suffix');
    assert.deepEqual(source.problems(), []);

    await writeFile(path.join(dir, 'settings.json'), configMap('settings', { MODE: 'slow', EXTRA: '1' }));
    await source.scan(signal);
    assert.deepEqual((await store.getConfigMap('default', 'settings', signal))?.data, { MODE: 'slow', EXTRA: '1' });

    await unlink(path.join(dir, 'creds.yaml'));
    await source.scan(signal);
    assert.equal(await store.getSecret('prod', 'creds', signal), undefined);
  });
});

test('a bad object file is reported for its own file and keeps the object it last described', async () => {
  await withObjects(async (dir, source, store) => {
    const file = path.join(dir, 'settings.json');
    await writeFile(file, configMap('settings', { MODE: 'fast' }));
    await source.scan(signal);
    await writeFile(file, configMap('settings', { 'bad key': 'x' }));
    await writeFile(path.join(dir, 'other.yaml'), 'apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: "%%%"}\n');
    await source.scan(signal);
    assert.deepEqual((await store.getConfigMap('default', 'settings', signal))?.data, { MODE: 'fast' });
    assert.equal(await store.getSecret('default', 's', signal), undefined);
    const problems = source.problems().sort((a, b) => (a.file < b.file ? -1 : 1));
    assert.deepEqual(
      problems.map((p) => path.basename(p.file)),
      ['other.yaml', 'settings.json'],
    );
    assert.deepEqual(problems[0]!.errors, ['data[k]: Invalid value: "<value redacted>": illegal base64 data at input byte 0']);
    assert.match(problems[1]!.errors[0]!, /^data\[bad key\]: Invalid value: "bad key": a valid config key/);
  });
});

test('two files naming one ConfigMap: the first file wins, the second is reported', async () => {
  await withObjects(async (dir, source, store) => {
    await writeFile(path.join(dir, '1.json'), configMap('same', { A: '1' }));
    await writeFile(path.join(dir, '2.json'), configMap('same', { A: '2' }));
    await writeFile(path.join(dir, '3.json'), configMap('same', { A: '3' }, 'other'));
    await source.scan(signal);
    assert.deepEqual((await store.getConfigMap('default', 'same', signal))?.data, { A: '1' });
    assert.deepEqual((await store.getConfigMap('other', 'same', signal))?.data, { A: '3' });
    const problems = source.problems();
    assert.equal(problems.length, 1);
    assert.equal(path.basename(problems[0]!.file), '2.json');
    assert.match(problems[0]!.errors[0]!, /Duplicate value: "same": the ConfigMap is already defined by .*1\.json/);
  });
});

test('without a store (API-server mode) object files are reported as unused', async () => {
  await withDir(async (dir, source) => {
    await writeFile(path.join(dir, 'settings.json'), configMap('settings', { MODE: 'fast' }));
    await source.scan(signal);
    assert.deepEqual(source.problems()[0]!.warnings, [
      'ConfigMap default/settings is not used: this node reads ConfigMaps and Secrets from the API server',
    ]);
  });
});
