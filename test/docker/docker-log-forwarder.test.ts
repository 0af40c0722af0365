// DockerLogForwarder against a real Docker Engine (live-restore, so that containers outlive an
// engine restart): CRI log files from Docker's log stream, reopened after a rename, resumed after a
// restart of the forwarder or of the engine without losing or repeating a line.
import assert from 'node:assert/strict';
import { readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type Docker from 'dockerode';
import { MAX_RECORD_TEXT } from '../../src/docker/docker-log-decoder.ts';
import { DockerLogForwarder } from '../../src/docker/docker-log-forwarder.ts';
import { isBerthError } from '../../src/errors/errors.ts';
import { logLines, parseCriLogRecord } from '../../src/providers/cri/container-logs.ts';
import { waitFor } from '../support/pod-fixtures.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';
import { type DockerTestEnv, startDockerTestEnv } from './docker-fixtures.ts';

const CRI_RECORD = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00 (stdout|stderr) [PF] /;
/** Prints line1, line2, … every 20 ms until killed. */
const COUNTER = ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo line$i; sleep 0.02; done'];

let env: DockerTestEnv;
let tmp: TempDir;
let sandboxId: string;
let n = 0;

before(async () => {
  tmp = await makeTempDir('berth-docker-logs-');
  env = await startDockerTestEnv({ liveRestore: true });
  const sandbox = await env.createSandbox('k8s_POD_logs_default_uid1_0');
  await sandbox.start();
  sandboxId = sandbox.id;
});

after(async () => {
  await env?.cleanUp();
  await tmp?.remove();
});

async function runContainer(cmd: string[], logPath: string, tty = false): Promise<Docker.Container> {
  n++;
  const c = await env.createContainer(sandboxId, `k8s_c${n}_logs_default_uid1_0`, cmd, { logPath, Tty: tty });
  await c.start();
  return c;
}

async function records(file: string, edit = (t: string) => t) {
  const text = edit(await readFile(file, 'utf8'));
  const lines = text.split('\n').slice(0, -1);
  for (const l of lines) assert.match(l, CRI_RECORD);
  return lines.map((l) => parseCriLogRecord(l)!);
}

async function texts(...files: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const f of files) out.push(...logLines(await readFile(f, 'utf8')).map((l) => l.line));
  return out;
}

/** The counter's lines are line1 … lineN, none missing, none twice. */
function assertCounted(lines: string[]): void {
  assert.ok(lines.length > 0);
  assert.deepEqual(
    lines,
    lines.map((_, i) => `line${i + 1}`),
  );
}

async function countLines(file: string): Promise<number> {
  return (await readFile(file, 'utf8').catch(() => '')).split('\n').length - 1;
}

test('stdout and stderr in the CRI format with times, a long line in P records, a last line without newline', async () => {
  const logPath = path.join(tmp.path, 'pod1', 'c1', '0.log');
  const script = 'echo out1; echo err1 >&2; head -c 40000 /dev/zero | tr "\\0" a; echo; echo out2; printf tail';
  const c = await runContainer(['sh', '-c', script], logPath);
  await using fw = asDisposable(new DockerLogForwarder({ engine: env.connection }));
  await fw.follow(c.id, logPath, false);
  await fw.follow(c.id, logPath, false); // idempotent
  await fw.waitDrained(c.id);

  const recs = await records(logPath);
  const { mode } = await stat(logPath);
  assert.equal(mode & 0o777, 0o640);
  // Docker copies stdout and stderr apart: their order between each other is its own.
  const first = recs.find((r) => r.stream === 'stdout')!;
  assert.deepEqual(first, { ...first, partial: false, text: 'out1' });
  assert.deepEqual(
    recs.filter((r) => r.stream === 'stderr').map((r) => r.text),
    ['err1'],
  );
  const long = recs.filter((r) => r.text.startsWith('a'));
  assert.ok(long.length >= 3, `the 40000-byte line comes in several records (${long.length})`);
  assert.ok(long.slice(0, -1).every((r) => r.partial && r.text.length <= MAX_RECORD_TEXT));
  assert.equal(long.at(-1)!.partial, false);
  assert.equal(long.map((r) => r.text).join(''), 'a'.repeat(40000));
  const last = recs.at(-1)!;
  assert.deepEqual([last.text, last.partial], ['tail', true]);
  const stdoutLines = logLines(
    (await readFile(logPath, 'utf8'))
      .split('\n')
      .filter((l) => l.includes(' stdout '))
      .join('\n') + '\n',
  );
  assert.deepEqual(
    stdoutLines.map((l) => (l.line.length > 20 ? 'long' : l.line)),
    ['out1', 'long', 'out2'],
  );
  // Times never go back within a stream.
  const times = recs.filter((r) => r.stream === 'stdout').map((r) => r.timestamp);
  assert.deepEqual(times, [...times].sort());

  await assert.rejects(fw.reopen(c.id), (e) => isBerthError(e) && e.kind === 'failed-precondition' && e.code === 'container-not-running');
});

test('a TTY container: raw stream, all stdout, a long line cut where Docker cut it', async () => {
  const logPath = path.join(tmp.path, 'pod1', 'tty', '0.log');
  const script = 'echo hello; echo world >&2; head -c 40000 /dev/zero | tr "\\0" b; echo; sleep 0.1; printf prompt';
  const c = await runContainer(['sh', '-c', script], logPath, true);
  await using fw = asDisposable(new DockerLogForwarder({ engine: env.connection }));
  await fw.follow(c.id, logPath, true);
  await fw.waitDrained(c.id);
  // The terminal ends lines with CR LF; the CR stays in the text, as conmon keeps it.
  const all = await records(logPath, (t) => t.replaceAll('\r', ''));
  const long = all.filter((r) => r.text.startsWith('b'));
  assert.ok(long.length >= 3 && long.slice(0, -1).every((r) => r.partial && r.text.length <= MAX_RECORD_TEXT));
  assert.equal(long.map((r) => r.text).join(''), 'b'.repeat(40000));
  const recs = all.filter((r) => !r.text.startsWith('b'));
  assert.deepEqual(
    recs.map((r) => [r.stream, r.partial, r.text]),
    [
      ['stdout', false, 'hello'],
      ['stdout', false, 'world'],
      ['stdout', true, 'prompt'],
    ],
  );
});

test('reopen after the kubelet renamed the file: old lines stay in the old file, new ones go to the new, none lost', async () => {
  const logPath = path.join(tmp.path, 'pod1', 'counter', '0.log');
  const rotated = `${logPath}.20261204-200000`;
  const c = await runContainer(COUNTER, logPath);
  await using fw = asDisposable(new DockerLogForwarder({ engine: env.connection }));
  await fw.follow(c.id, logPath, false);
  await waitFor('lines in the log', async () => (await countLines(logPath)) >= 5);
  await rename(logPath, rotated);
  await fw.reopen(c.id);
  await waitFor('lines in the new log', async () => (await countLines(logPath)) >= 5);
  await c.kill();
  await fw.waitDrained(c.id);
  const old = await texts(rotated);
  assert.ok(old.length >= 5);
  assertCounted(await texts(rotated, logPath));
});

test('a new forwarder resumes where the file ends: nothing repeated, nothing lost', async () => {
  const logPath = path.join(tmp.path, 'pod1', 'resume', '0.log');
  const c = await runContainer(COUNTER, logPath);
  const first = new DockerLogForwarder({ engine: env.connection });
  await first.follow(c.id, logPath, false);
  await waitFor('lines in the log', async () => (await countLines(logPath)) >= 5);
  await first.close();
  const stoppedAt = await countLines(logPath);
  const printed = async () => (await c.logs({ stdout: true, follow: false })).toString('latin1').split('line').length - 1;
  await waitFor('the container to print more than was written', async () => (await printed()) >= stoppedAt + 10);
  await using second = asDisposable(new DockerLogForwarder({ engine: env.connection }));
  await second.follow(c.id, logPath, false);
  await waitFor('more lines in the log', async () => (await countLines(logPath)) >= stoppedAt + 10);
  await c.kill();
  await second.waitDrained(c.id);
  assertCounted(await texts(logPath));
});

test('a restart of the engine breaks the stream; the follower resumes with since= and loses nothing', async () => {
  const logPath = path.join(tmp.path, 'pod1', 'engine', '0.log');
  const c = await runContainer(COUNTER, logPath);
  await using fw = asDisposable(new DockerLogForwarder({ engine: env.connection }));
  await fw.follow(c.id, logPath, false);
  await waitFor('lines in the log', async () => (await countLines(logPath)) >= 5);
  await env.engine.restart();
  const atRestart = await countLines(logPath);
  await waitFor('lines after the restart', async () => (await countLines(logPath)) >= atRestart + 10, 30_000);
  await c.kill();
  await fw.waitDrained(c.id);
  assertCounted(await texts(logPath));
});

function asDisposable(fw: DockerLogForwarder): DockerLogForwarder & AsyncDisposable {
  return Object.assign(fw, { [Symbol.asyncDispose]: () => fw.close() });
}
