import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../util/logger.ts';
import type { Pod } from './k8s-types.ts';
import { PodSources } from './pod-sources.ts';

const manifest = (name: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  containers: [{name: c, image: "busybox:1.36"}]\n`;
const names = (pods: Pod[]) => pods.map((p) => p.metadata.name);
const apiPod: Pod = { metadata: { name: 'api', namespace: 'default', uid: 'u1' }, spec: { containers: [{ name: 'c', image: 'x' }] } };

async function manifestDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-pod-sources-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('with no source at all, every source was read', () => {
  const sources = new PodSources({ nodeName: 'n1', manifestScanMs: 1000, fromApiServer: false, logger: silentLogger() });
  assert.equal(sources.allSeen(), true);
  assert.deepEqual(sources.manifestProblems(), []);
});

test('every source counts as read once it gave its pods the first time; each change is announced', async (t) => {
  const dir = await manifestDir(t);
  await writeFile(path.join(dir, 'web.yaml'), manifest('web'));
  const sources = new PodSources({ nodeName: 'n1', manifestDir: dir, manifestScanMs: 1000, fromApiServer: true, logger: silentLogger() });
  const seen: (string | undefined)[][] = [];
  sources.onChange(() => seen.push([...names(sources.staticPods()), ...names(sources.apiPods())]));
  assert.equal(sources.allSeen(), false);

  sources.setApiPods([apiPod]);
  assert.equal(sources.allSeen(), false, 'the manifest folder was not read yet');
  await sources.scanManifests(AbortSignal.timeout(10_000));
  assert.equal(sources.allSeen(), true);
  assert.deepEqual(seen, [['api'], ['web-n1', 'api']]);
});

test('the manifest folder is read again every period; its bad files are reported', async (t) => {
  const dir = await manifestDir(t);
  await writeFile(path.join(dir, 'a.yaml'), manifest('a'));
  const sources = new PodSources({ nodeName: 'n1', manifestDir: dir, manifestScanMs: 10, fromApiServer: false, logger: silentLogger() });
  const stopper = new AbortController();
  const scans = sources.runManifestScans(stopper.signal);
  t.after(async () => {
    stopper.abort();
    await scans;
  });
  await writeFile(path.join(dir, 'b.yaml'), manifest('b'));
  await writeFile(path.join(dir, 'bad.yaml'), 'kind: Pod\nspec: [\n');
  for (let i = 0; i < 200 && sources.manifestProblems().length === 0; i++) await sleep(10);
  assert.deepEqual(names(sources.staticPods()), ['a-n1', 'b-n1']);
  assert.deepEqual(
    sources.manifestProblems().map((p) => path.basename(p.file)),
    ['bad.yaml'],
  );
  assert.ok(sources.manifestProblems()[0]!.errors.length > 0);
});
