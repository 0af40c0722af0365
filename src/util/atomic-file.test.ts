import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { writeFileAtomic } from './atomic-file.ts';

test('writeFileAtomic replaces the file whole and leaves no temp file', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state.json');
  await writeFileAtomic(file, 'one');
  await writeFileAtomic(file, 'two');
  assert.equal(await readFile(file, 'utf8'), 'two');
  assert.deepEqual(await readdir(dir), ['state.json']);
});

test('writeFileAtomic fsyncs the file and then its directory (seen with strace)', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-atomic-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'state.json');
  const script = `import { writeFileAtomic } from ${JSON.stringify(path.join(import.meta.dirname, 'atomic-file.ts'))};
await writeFileAtomic(${JSON.stringify(file)}, 'x');`;
  // -y names each descriptor's path; Node's fs works on threads, hence -f.
  const { stderr } = await promisify(execFile)('strace', [
    '-f',
    '-y',
    '-e',
    'trace=fsync,fdatasync,rename',
    process.execPath,
    '--input-type=module',
    '-e',
    script,
  ]);
  const events = stderr
    .split('\n')
    .map((l) => /(fsync|fdatasync|rename)\((?:\d+<([^>]*)>|"([^"]*)")/.exec(l))
    .filter((m) => m !== null)
    .map((m) => `${m[1]} ${path.basename(m[2] ?? m[3] ?? '')}`);
  const sync = events.findIndex((e) => /^(fsync|fdatasync) \.state\.json\..*\.tmp$/.test(e));
  const renamed = events.findIndex((e) => /^rename \.state\.json\..*\.tmp$/.test(e));
  const dirSync = events.findIndex((e) => e === `fsync ${path.basename(dir)}`);
  assert.ok(
    sync >= 0 && renamed > sync && dirSync > renamed,
    `fsync of the temp file, rename, fsync of the directory: ${events.join('; ')}`,
  );
});
