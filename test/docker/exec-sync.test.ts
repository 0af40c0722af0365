// ExecSync of the dockershim against a real Docker Engine: output and exit code, stdout and
// stderr apart, the output bound with its marker, the timeout (DEADLINE_EXCEEDED, the command and
// what it started killed), cancellation, and the errors of a missing or stopped container.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DOCKER_EXEC_SYNC_MAX_OUTPUT, dockerExecSync, dockerTruncationMarker } from '../../src/docker/docker-exec-sync.ts';
import { BerthError } from '../../src/errors/errors.ts';
import { pidsWithCmdline, setUpAndTearDown, waitFor } from '../support/pod-fixtures.ts';
import { type DockerStreamEnv, startDockerStreamEnv } from './support.ts';

let env: DockerStreamEnv;
let workerId = '';

setUpAndTearDown(
  async () => {
    env = await startDockerStreamEnv();
    workerId = await env.run('exec sleep 2147483647');
  },
  async () => {
    await env?.stop();
  },
);

async function expectError(promise: Promise<unknown>, kind: string, code: string): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof BerthError, String(e));
    assert.equal(e.kind, kind, e.message);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

async function processesBesidesInit(id: string): Promise<string[]> {
  const c = env.engine.docker.getContainer(id);
  const pid1 = (await c.inspect()).State.Pid;
  const rows = ((await c.top({ ps_args: '-o pid,args' })).Processes ?? []) as string[][];
  return rows.filter((p) => Number(p[0]) !== pid1).map((p) => p.join(' '));
}

describe('ExecSync', { timeout: 120_000 }, () => {
  test('stdout, stderr and the exit code', async () => {
    const r = await dockerExecSync(env.docker, workerId, ['sh', '-c', 'echo to-out; echo to-err >&2; exit 7'], 10_000);
    assert.equal(r.stdout.toString(), 'to-out\n');
    assert.equal(r.stderr.toString(), 'to-err\n');
    assert.equal(r.exitCode, 7);
    const ok = await dockerExecSync(env.docker, workerId, ['cat', '/etc/motd'], 0);
    assert.deepEqual([ok.stdout.toString(), ok.stderr.length, ok.exitCode], ['berth test image\n', 0, 0]);
    const missing = await dockerExecSync(env.docker, workerId, ['/no/such/program'], 0);
    assert.equal(missing.exitCode, 126);
    assert.match(missing.stdout.toString(), /no such file|not found/i);
  });

  test('output beyond the bound is cut and marked, the exit code kept', async () => {
    const r = await dockerExecSync(env.docker, workerId, ['sh', '-c', 'yes | head -c 9000000; echo small >&2; exit 2'], 60_000);
    const marker = dockerTruncationMarker('stdout');
    assert.equal(r.stdout.length, DOCKER_EXEC_SYNC_MAX_OUTPUT + marker.length);
    assert.equal(r.stdout.subarray(DOCKER_EXEC_SYNC_MAX_OUTPUT).toString(), marker);
    assert.equal(r.stdout.subarray(0, 4).toString(), 'y\ny\n');
    assert.equal(r.stderr.toString(), 'small\n');
    assert.equal(r.exitCode, 2);
  });

  test('a timeout is DEADLINE_EXCEEDED and kills the command with what it started', async () => {
    const marker = String(3_000_000 + Math.floor(Math.random() * 1_000_000));
    await expectError(
      dockerExecSync(env.docker, workerId, ['sh', '-c', `sleep ${marker} & sleep ${marker}`], 500),
      'deadline-exceeded',
      'exec-timeout',
    );
    assert.deepEqual(await pidsWithCmdline(`sleep ${marker}`), []);
    assert.deepEqual(await processesBesidesInit(workerId), []);
  });

  test('an abort cancels the call and kills the command', async () => {
    const marker = String(4_000_000 + Math.floor(Math.random() * 1_000_000));
    const controller = new AbortController();
    const running = dockerExecSync(env.docker, workerId, ['sleep', marker], 0, controller.signal);
    await waitFor('the command to run', async () => (await pidsWithCmdline(`sleep ${marker}`)).length === 1);
    controller.abort();
    await expectError(running, 'cancelled', 'cancelled');
    assert.deepEqual(await pidsWithCmdline(`sleep ${marker}`), []);
    assert.deepEqual(await processesBesidesInit(workerId), []);
    await expectError(dockerExecSync(env.docker, workerId, ['true'], 0, controller.signal), 'cancelled', 'cancelled');
  });

  test('no command: INVALID_ARGUMENT; unknown container: NOT_FOUND; stopped: FAILED_PRECONDITION', async () => {
    await expectError(dockerExecSync(env.docker, workerId, [], 0), 'invalid-argument', 'bad-command');
    await expectError(dockerExecSync(env.docker, 'f'.repeat(64), ['true'], 0), 'not-found', 'container-not-found');
    const stopped = await env.run('exit 0');
    await waitFor('the container to stop', async () => !(await env.engine.docker.getContainer(stopped).inspect()).State.Running);
    await expectError(dockerExecSync(env.docker, stopped, ['true'], 0), 'failed-precondition', 'container-not-running');
  });
});
