import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { describeRevision, isCommitted, keptResultPath, parseKeptResultName, readRevision, sameRevision } from './revision.ts';

async function repo(t: { after(fn: () => Promise<void>): void }): Promise<{ dir: string; git: (...args: string[]) => string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-revision-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@example.test', ...args], { encoding: 'utf8' });
  git('init', '-q');
  await mkdir(path.join(dir, 'src'));
  await writeFile(path.join(dir, 'src', 'a.ts'), 'export const a = 1;\n');
  git('add', '.');
  git('commit', '-qm', 'first');
  return { dir, git };
}

test('a clean checkout is its commit; a result file is named by date and commit', async (t) => {
  const { dir, git } = await repo(t);
  const head = git('rev-parse', 'HEAD').trim();
  const r = await readRevision(dir);
  assert.deepEqual(r, { commit: head, uncommitted: [] });
  assert.equal(isCommitted(r), true);
  assert.equal(describeRevision(r), `commit ${head.slice(0, 12)}`);
  const file = keptResultPath(dir, r, new Date('2026-12-03T18:00:00Z'));
  assert.equal(file, path.join(dir, 'bench', 'results', `2026-12-03-${head.slice(0, 12)}.json`));
  assert.deepEqual(parseKeptResultName(file), { date: '2026-12-03', commit: head.slice(0, 12) });
  assert.equal(parseKeptResultName('latest.json'), undefined);
});

test('changed, staged and new files make the tree uncommitted; results being written do not', async (t) => {
  const { dir, git } = await repo(t);
  await mkdir(path.join(dir, 'bench', 'results'), { recursive: true });
  await writeFile(path.join(dir, 'bench', 'results', 'quick.json'), '{}\n');
  assert.equal(isCommitted(await readRevision(dir)), true, 'a results file is not a change to the code');

  await writeFile(path.join(dir, 'src', 'a.ts'), 'export const a = 2;\n');
  await writeFile(path.join(dir, 'src', 'new.ts'), 'export {};\n');
  const changed = await readRevision(dir);
  assert.deepEqual(changed.uncommitted, ['src/a.ts', 'src/new.ts']);
  assert.equal(isCommitted(changed), false);
  assert.match(describeRevision(changed), /with uncommitted changes \(src\/a\.ts, src\/new\.ts\)/);
  assert.throws(() => keptResultPath(dir, changed, new Date()), /committed/);

  git('add', '.');
  assert.deepEqual((await readRevision(dir)).uncommitted, ['src/a.ts', 'src/new.ts'], 'staged is not committed either');
  git('commit', '-qm', 'second');
  const second = await readRevision(dir);
  assert.equal(isCommitted(second), true);
  assert.equal(sameRevision(second, changed), false, 'a new commit is another revision');
  assert.equal(sameRevision(second, await readRevision(dir)), true);
});

test('outside a git checkout there is no commit, so nothing is committed', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-revision-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const r = await readRevision(dir);
  assert.deepEqual(r, { commit: null, uncommitted: [] });
  assert.equal(isCommitted(r), false);
  assert.equal(describeRevision(r), 'not a git checkout');
});
