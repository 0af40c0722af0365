import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Pod, PodStatus } from '../../agent/k8s-types.ts';
import {
  type ExitedContainerStatus,
  exitedContainerMessage,
  limitTerminationMessages,
  podContainerDir,
  terminationMessageMount,
  truncateUtf8,
} from './termination-message.ts';

let root: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'berth-termination-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const pod: Pod = {
  metadata: { name: 'p', namespace: 'default', uid: 'uid-7' },
  spec: { containers: [{ name: 'main', image: 'busybox' }] },
};

function exited(file: string, extra: Partial<ExitedContainerStatus> = {}, policy = 'File'): ExitedContainerStatus {
  return {
    exitCode: 1,
    reason: 'Error',
    message: '',
    logPath: path.join(root, 'no-such.log'),
    annotations: {
      'io.kubernetes.container.terminationMessagePath': '/dev/termination-log',
      'io.kubernetes.container.terminationMessagePolicy': policy,
    },
    mounts: [
      { containerPath: '/data', hostPath: path.join(root, 'elsewhere') },
      { containerPath: '/dev/termination-log', hostPath: file },
    ],
    ...extra,
  };
}

/** A CRI-format log of `lines` lines (`line-1` …). */
async function writeLog(name: string, lines: number): Promise<string> {
  const file = path.join(root, name);
  const records = Array.from({ length: lines }, (_, i) => `2026-01-01T00:00:00.000000000Z stdout F line-${i + 1}\n`);
  await writeFile(file, records.join(''));
  return file;
}

test('each start gets a fresh empty 0666 file under <podDir>/containers/<name>, mounted at the termination path', async () => {
  const container = { name: 'main', image: 'busybox', terminationMessagePath: '/tmp/why' };
  const first = await terminationMessageMount(root, pod, container);
  const second = await terminationMessageMount(root, pod, { name: 'main', image: 'busybox' });
  const dir = podContainerDir(root, 'uid-7', 'main');
  assert.equal(dir, path.join(root, 'pods', 'uid-7', 'containers', 'main'));
  assert.equal(first.containerPath, '/tmp/why');
  assert.equal(second.containerPath, '/dev/termination-log');
  assert.notEqual(first.hostPath, second.hostPath);
  assert.deepEqual((await readdir(dir)).sort(), [path.basename(first.hostPath!), path.basename(second.hostPath!)].sort());
  const info = await stat(first.hostPath!);
  assert.equal(info.size, 0);
  assert.equal(info.mode & 0o777, 0o666);
});

test('the message is the file found through the mount at the annotated path, its last 4096 bytes', async () => {
  const file = path.join(root, 'msg-small');
  await writeFile(file, 'disk full');
  assert.equal(await exitedContainerMessage(exited(file)), 'disk full');
  const big = path.join(root, 'msg-big');
  await writeFile(big, `${'x'.repeat(1000)}${'y'.repeat(4096)}`);
  assert.equal(await exitedContainerMessage(exited(big)), 'y'.repeat(4096));
  // The runtime's own message comes first.
  assert.equal(await exitedContainerMessage(exited(file, { message: 'oom' })), 'oom: disk full');
  // No mount at the annotated path (or no annotation): only the runtime's message.
  assert.equal(await exitedContainerMessage(exited(file, { mounts: [], message: 'oom' })), 'oom');
  assert.equal(await exitedContainerMessage(exited(file, { annotations: {} })), '');
});

test('FallbackToLogsOnError: an empty file and a failure give the last 80 log lines, at most 2048 bytes', async () => {
  const empty = path.join(root, 'msg-empty');
  await writeFile(empty, '');
  const shortLog = await writeLog('short.log', 100);
  const expected = Array.from({ length: 80 }, (_, i) => `line-${i + 21}\n`).join('');
  assert.equal(await exitedContainerMessage(exited(empty, { logPath: shortLog }, 'FallbackToLogsOnError')), expected);

  const longLog = path.join(root, 'long.log');
  const records = Array.from({ length: 30 }, (_, i) => `2026-01-01T00:00:00Z stderr F ${String(i).padStart(2, '0')}${'z'.repeat(97)}\n`);
  await writeFile(longLog, records.join(''));
  const tail = await exitedContainerMessage(exited(empty, { logPath: longLog }, 'FallbackToLogsOnError'));
  assert.equal(Buffer.byteLength(tail), 2048);
  assert.ok(tail.endsWith(`29${'z'.repeat(97)}\n`));

  // A missing file falls back as well; a written file, success, File policy or ContainerCannotRun do not.
  assert.equal(await exitedContainerMessage(exited(path.join(root, 'gone'), { logPath: shortLog }, 'FallbackToLogsOnError')), expected);
  const written = path.join(root, 'msg-written');
  await writeFile(written, 'bye');
  assert.equal(await exitedContainerMessage(exited(written, { logPath: shortLog }, 'FallbackToLogsOnError')), 'bye');
  assert.equal(await exitedContainerMessage(exited(empty, { logPath: shortLog, exitCode: 0 }, 'FallbackToLogsOnError')), '');
  assert.equal(await exitedContainerMessage(exited(empty, { logPath: shortLog })), '');
  assert.equal(
    await exitedContainerMessage(exited(empty, { logPath: shortLog, reason: 'ContainerCannotRun' }, 'FallbackToLogsOnError')),
    '',
  );
  assert.match(
    await exitedContainerMessage(exited(empty, {}, 'FallbackToLogsOnError')),
    /^Error on reading termination message from logs: .*no-such\.log/,
  );
});

test('a message file that cannot be read is reported in the message', async () => {
  const dir = path.join(root, 'a-directory');
  await mkdir(dir);
  assert.match(await exitedContainerMessage(exited(dir)), /^Error on reading termination log .*a-directory: /);
});

test('a pod keeps at most 12 KiB of messages, shared evenly by its containers; characters are not split', () => {
  const three: Pod = {
    ...pod,
    spec: { initContainers: [{ name: 'init' }], containers: [{ name: 'a' }, { name: 'b' }] },
  };
  const terminated = (message: string) => ({
    terminated: { exitCode: 1, message, startedAt: '', finishedAt: '' },
  });
  const status = {
    initContainerStatuses: [{ name: 'init', state: terminated('i'.repeat(5000)), lastState: {} }],
    containerStatuses: [
      { name: 'a', state: terminated('short'), lastState: terminated('l'.repeat(4097)) },
      { name: 'b', state: { running: { startedAt: '' } }, lastState: {} },
    ],
  } as unknown as PodStatus;
  limitTerminationMessages(three, status);
  assert.equal(status.initContainerStatuses![0]!.state.terminated!.message, 'i'.repeat(4096));
  assert.equal(status.containerStatuses![0]!.state.terminated!.message, 'short');
  assert.equal(status.containerStatuses![0]!.lastState.terminated!.message, 'l'.repeat(4096));
  assert.equal(truncateUtf8('aé', 2), 'a');
  assert.equal(truncateUtf8('aé', 3), 'aé');
});
