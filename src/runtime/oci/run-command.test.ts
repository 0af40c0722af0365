import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBerthError } from '../../errors/errors.ts';
import { BoundedBuffer, runCommand } from './run-command.ts';

test('BoundedBuffer keeps the first bytes and says it dropped the rest', () => {
  const b = new BoundedBuffer(5);
  b.push(Buffer.from('abc'));
  assert.equal(b.truncated, false);
  b.push(Buffer.from('defg'));
  b.push(Buffer.from('h'));
  assert.equal(b.toBuffer().toString(), 'abcde');
  assert.equal(b.truncated, true);
  const exact = new BoundedBuffer(3);
  exact.push(Buffer.from('abc'));
  exact.push(Buffer.alloc(0));
  assert.equal(exact.truncated, false);
});

test('runCommand passes stdin and collects output and the exit code', async () => {
  const r = await runCommand('sh', ['-c', 'cat; echo err >&2; exit 4'], { stdin: 'in' });
  assert.equal(r.stdout.toString(), 'in');
  assert.equal(r.stderr.toString(), 'err\n');
  assert.equal(r.code, 4);
  assert.equal(r.timedOut, false);
});

test('runCommand kills on timeout and on abort', async () => {
  const r = await runCommand('sleep', ['10'], { timeoutMs: 100 });
  assert.equal(r.timedOut, true);
  assert.equal(r.exitSignal, 'SIGKILL', 'killed, not waited for');
  await assert.rejects(runCommand('sleep', ['10'], { signal: AbortSignal.timeout(100) }), (e: unknown) =>
    isBerthError(e, 'deadline-exceeded'),
  );
  await assert.rejects(runCommand('/no/such/binary', []), /ENOENT/);
});
