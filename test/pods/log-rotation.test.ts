// Container logs against a real berth daemon: rotation as the kubelet's log manager does it (the
// cri provider's ContainerLogRotator: rename, ReopenContainerLog, gzip, count limit) with no line
// lost, a failed reopen undone, and conmon's own size limit (the daemon's log_size_max).
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { NamespaceMode } from '../../src/cri-api/gen/runtime/v1/api_pb.js';
import { ContainerLogRotator } from '../../src/providers/cri/container-log-rotation.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { expectCriError, type PodEnv, parseCriLog, setUpAndTearDown, startPodEnv, waitFor } from '../support/pod-fixtures.ts';

const LOG_SIZE_MAX = 256 * 1024;
let env: PodEnv;

setUpAndTearDown(
  async () => {
    env = await startPodEnv({ index: 61, extraConfig: `log_size_max = ${LOG_SIZE_MAX}` });
  },
  async () => {
    if (env === undefined) return;
    const forced = await env.cleanUp();
    assert.deepEqual(
      forced.filter((f) => !f.endsWith('/state/ns')),
      [],
    );
  },
);

const rt = () => env.cri.runtime;
const numbers = (text: string) => parseCriLog(text).map((l) => Number(l.text.replace('line ', '')));

/** Seconds apart, so that each rotation gets its own `YYYYMMDD-hhmmss` name. */
function steppingClock(): () => Date {
  let t = Date.UTC(2026, 0, 1, 10, 0, 0);
  return () => {
    t += 1000;
    return new Date(t);
  };
}

async function podWithWriter(name: string, script: string) {
  const config = env.podConfig(name, { linux: { securityContext: { namespaceOptions: { pid: NamespaceMode.CONTAINER } } } });
  const podId = await env.runPod(config);
  const id = await env.startContainer(podId, env.containerConfig('writer', script), config);
  const { status } = await rt().containerStatus({ containerId: id });
  return { podId, id, log: status!.logPath };
}

describe('container log rotation', () => {
  test('rotates at the size limit, keeps maxFiles files (older ones gzipped) and loses no line', async () => {
    // Short bursts with pauses: the log passes 8 KiB within a burst or two.
    const { podId, id, log } = await podWithWriter(
      'rotate',
      'i=0; while :; do i=$((i+1)); echo "line $i"; [ $((i % 200)) = 0 ] && sleep 0.2; done',
    );
    const rotator = new ContainerLogRotator({
      runtime: rt(),
      policy: { maxSizeBytes: 8 * 1024, maxFiles: 3, intervalMs: 1000 },
      logger: silentLogger(),
      callTimeoutMs: 30_000,
      now: steppingClock(),
    });
    const signal = new AbortController().signal;
    for (let round = 0; round < 4; round++) {
      await waitFor(`the log past 8 KiB (round ${round})`, async () => (await stat(log)).size >= 8 * 1024, 30_000);
      assert.deepEqual(await rotator.rotateAll(signal), [id]);
    }
    await waitFor('the writer to go on in the new file', async () => (await stat(log)).size > 0, 30_000);
    await rt().stopContainer({ containerId: id, timeout: 0n });

    const dir = path.dirname(log);
    const files = (await readdir(dir)).sort();
    const base = path.basename(log);
    // Four rotations with maxFiles 3: the live log, the newest rotated one as it is, one gzipped.
    assert.deepEqual(files, [base, `${base}.20260101-100003.gz`, `${base}.20260101-100004`].sort());
    const parts = [
      gunzipSync(await readFile(path.join(dir, `${base}.20260101-100003.gz`))).toString(),
      await readFile(path.join(dir, `${base}.20260101-100004`), 'utf8'),
      await readFile(log, 'utf8'),
    ].map(numbers);
    const all = parts.flat();
    assert.ok(all.length > 300, `only ${all.length} lines kept`);
    for (let i = 1; i < all.length; i++)
      assert.equal(all[i], all[i - 1]! + 1, `line ${all[i - 1]} is followed by ${all[i]}: a line was lost at a rotation`);
    await rt().stopPodSandbox({ podSandboxId: podId });
    await rt().removePodSandbox({ podSandboxId: podId });
  });

  test('a reopen the runtime refuses is undone: the log keeps its name, no rotated file is left', async () => {
    const { podId, id, log } = await podWithWriter('refused', 'echo "line 1"; echo "line 2"; sleep 3600');
    await waitFor('two lines', async () => numbers(await readFile(log, 'utf8')).length === 2, 30_000);
    await rt().stopContainer({ containerId: id, timeout: 0n });
    const rotator = new ContainerLogRotator({
      runtime: rt(),
      policy: { maxSizeBytes: 1, maxFiles: 3, intervalMs: 1000 },
      logger: silentLogger(),
      callTimeoutMs: 30_000,
      now: steppingClock(),
    });
    await expectCriError(rotator.rotate(id, log, new AbortController().signal), 'FAILED_PRECONDITION');
    assert.deepEqual(await readdir(path.dirname(log)), [path.basename(log)]);
    assert.deepEqual(numbers(await readFile(log, 'utf8')), [1, 2]);
    // A stopped container is not running: a round leaves it alone.
    assert.deepEqual(await rotator.rotateAll(new AbortController().signal), []);
    await rt().stopPodSandbox({ podSandboxId: podId });
    await rt().removePodSandbox({ podSandboxId: podId });
  });

  test("the daemon's log_size_max bounds what conmon writes", async () => {
    const { podId, id, log } = await podWithWriter(
      'capped',
      'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); echo "line $i"; done; echo done; sleep 3600',
    );
    await waitFor('the writer to finish', async () => (await readFile(log, 'utf8')).includes(' done\n'), 60_000);
    const size = (await stat(log)).size;
    // 20,000 lines are about 900 KB as CRI records; conmon started the file over each time it filled.
    assert.ok(size <= LOG_SIZE_MAX, `the log is ${size} bytes, over log_size_max ${LOG_SIZE_MAX}`);
    await rt().stopContainer({ containerId: id, timeout: 0n });
    await rt().stopPodSandbox({ podSandboxId: podId });
    await rt().removePodSandbox({ podSandboxId: podId });
  });
});
