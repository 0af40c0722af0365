import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../util/logger.ts';
import { ManifestDirSource } from './manifest-dir-source.ts';

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
