import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type FileProjection, payloadPathProblem, writeAtomically } from './atomic-writer.ts';

let base: string;
before(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'berth-atomic-'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

const files = (entries: Record<string, [string, number]>) =>
  new Map<string, FileProjection>(Object.entries(entries).map(([p, [data, mode]]) => [p, { data: Buffer.from(data), mode }]));

async function newTarget(name: string): Promise<string> {
  const dir = path.join(base, name);
  await mkdir(dir);
  return dir;
}

test('files land in a timestamped directory behind ..data; the names users see are symlinks through it', async () => {
  const dir = await newTarget('first');
  const written = await writeAtomically(
    dir,
    files({ a: ['one', 0o644], 'sub/b': ['two', 0o400] }),
    new Date(Date.UTC(2026, 10, 28, 14, 5, 9)),
  );
  assert.equal(written, true);
  const entries = (await readdir(dir)).sort();
  assert.equal(entries.length, 4);
  const ts = entries.find((e) => e.startsWith('..2026_11_28_14_05_09.'));
  assert.ok(ts, `a timestamped directory in ${entries}`);
  assert.equal(await readlink(path.join(dir, '..data')), ts);
  assert.equal(await readlink(path.join(dir, 'a')), '..data/a');
  assert.equal(await readlink(path.join(dir, 'sub')), '..data/sub');
  assert.equal(await readFile(path.join(dir, 'a'), 'utf8'), 'one');
  assert.equal(await readFile(path.join(dir, 'sub/b'), 'utf8'), 'two');
  assert.equal((await stat(path.join(dir, 'sub/b'))).mode & 0o777, 0o400);
  assert.equal((await stat(path.join(dir, ts!))).mode & 0o777, 0o755);
});

test('the same payload again writes nothing; a change swaps ..data and drops what went away', async () => {
  const dir = await newTarget('update');
  await writeAtomically(dir, files({ a: ['one', 0o644], gone: ['x', 0o644] }));
  const firstTs = await readlink(path.join(dir, '..data'));
  assert.equal(await writeAtomically(dir, files({ a: ['one', 0o644], gone: ['x', 0o644] })), false);
  assert.equal(await readlink(path.join(dir, '..data')), firstTs);

  assert.equal(await writeAtomically(dir, files({ a: ['changed', 0o644], c: ['new', 0o600] })), true);
  const secondTs = await readlink(path.join(dir, '..data'));
  assert.notEqual(secondTs, firstTs);
  assert.equal(await readFile(path.join(dir, 'a'), 'utf8'), 'changed');
  assert.equal(await readFile(path.join(dir, 'c'), 'utf8'), 'new');
  await assert.rejects(lstat(path.join(dir, 'gone')), { code: 'ENOENT' });
  await assert.rejects(lstat(path.join(dir, firstTs)), { code: 'ENOENT' });
  assert.deepEqual((await readdir(dir)).sort(), ['..data', secondTs, 'a', 'c'].sort());

  // A mode change alone is a change.
  assert.equal(await writeAtomically(dir, files({ a: ['changed', 0o600], c: ['new', 0o600] })), true);
  assert.equal((await stat(path.join(dir, 'a'))).mode & 0o777, 0o600);
});

test('an empty payload leaves only ..data and its directory', async () => {
  const dir = await newTarget('empty');
  await writeAtomically(dir, files({ a: ['one', 0o644] }));
  await writeAtomically(dir, new Map());
  const entries = await readdir(dir);
  assert.equal(entries.length, 2);
  assert.ok(entries.includes('..data'));
});

test('paths that are absolute, climb out, or start with .. are refused', async () => {
  const dir = await newTarget('bad');
  for (const [p, problem] of [
    ['/etc/passwd', 'must be relative path: /etc/passwd'],
    ['a/../../x', "must not contain '..': a/../../x"],
    ['..data', "must not start with '..': ..data"],
    ['', 'must not be empty'],
  ]) {
    assert.equal(payloadPathProblem(p!), problem);
    await assert.rejects(writeAtomically(dir, files({ [p!]: ['x', 0o644] })), { message: `invalid path: ${problem}` });
  }
  assert.equal(payloadPathProblem('a/b..c'), undefined);
  assert.deepEqual(await readdir(dir), []);
});
