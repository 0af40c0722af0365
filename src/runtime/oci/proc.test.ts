import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { sleep } from '../../util/sleep.ts';
import { isProcessAlive, killProcessTree, parseProcStat, readParentTable, readProcStat } from './proc.ts';

test('parseProcStat reads the fields after the last parenthesis', () => {
  const line = '1234 (we ird) (name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 10 18446744073709551615';
  assert.deepEqual(parseProcStat(line), { pid: 1234, state: 'S', ppid: 1, session: 1234, startTime: '98765' });
  assert.equal(parseProcStat('garbage'), undefined);
});

test('isProcessAlive tells a live process, a reused pid and a dead one apart', async () => {
  const me = await readProcStat(process.pid);
  assert.ok(me);
  assert.equal(await isProcessAlive(process.pid), true);
  assert.equal(await isProcessAlive(process.pid, me.startTime), true);
  assert.equal(await isProcessAlive(process.pid, '1'), false);
  assert.equal(await isProcessAlive(0), false);
  assert.equal(await isProcessAlive(2 ** 22 + 1), false);
});

test('killProcessTree kills a process and every descendant, even re-parented ones', async () => {
  // sh starts two background sleeps and a sub-shell that starts one more; nothing of it may survive.
  const child = spawn('sh', ['-c', 'sleep 300 & sleep 301 & (sleep 302 & wait) & wait'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const root = child.pid!;
  // The two sleeps and the sub-shell, and the sub-shell's own sleep.
  const tree = async () => {
    const parents = await readParentTable();
    const children = [...parents].filter(([, ppid]) => ppid === root).map(([pid]) => pid);
    const grandchildren = [...parents].filter(([, ppid]) => children.includes(ppid)).map(([pid]) => pid);
    return { children, grandchildren };
  };
  let found = await tree();
  while (found.children.length < 3 || found.grandchildren.length < 1) {
    await sleep(10);
    found = await tree();
  }
  const killed = await killProcessTree(root);
  assert.ok(killed.length >= 5, `killed ${killed}`);
  await exited;
  // SIGKILL is sent; each goes once the kernel has reaped it (the test's timeout bounds the wait).
  for (const pid of killed) while (await isProcessAlive(pid)) await sleep(10);
  assert.deepEqual(await killProcessTree(root), []);
});
