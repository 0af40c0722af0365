// DockerEventWatcher against a real Docker Engine: the dockershim's containers' create, start, die
// and destroy as CRI container events, in order, with the sandbox flag; others ignored; after a
// restart of the engine the watcher reconnects and reports what happened, each change once.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type DockerContainerEvent, DockerEventWatcher } from '../../src/docker/docker-events.ts';
import { waitFor } from '../support/pod-fixtures.ts';
import { type DockerTestEnv, startDockerTestEnv } from './docker-fixtures.ts';

let env: DockerTestEnv;

before(async () => {
  env = await startDockerTestEnv();
});

after(async () => {
  await env?.cleanUp();
});

function recorder() {
  const events: DockerContainerEvent[] = [];
  const of = (id: string) => events.filter((e) => e.containerId === id).map((e) => e.type);
  return { events, of };
}

test('created, started, stopped, deleted in order, with the sandbox flag; unlabelled containers and exec are ignored', async () => {
  const rec = recorder();
  const watcher = new DockerEventWatcher({ engine: env.connection, onEvent: (e) => rec.events.push(e) });
  await watcher.start();
  try {
    const sandbox = await env.createSandbox('k8s_POD_ev_default_uid2_0');
    await sandbox.start();
    const c = await env.createContainer(sandbox.id, 'k8s_app_ev_default_uid2_0', ['sleep', '3600']);
    await c.start();
    const exec = await c.exec({ Cmd: ['true'] });
    await exec.start({ Detach: true });
    const other = await env.engine.docker.createContainer({
      name: 'not-ours',
      Image: env.image,
      Cmd: ['true'],
      HostConfig: { NetworkMode: 'none' },
    });
    await other.start();
    await other.wait();
    await other.remove();
    await c.kill();
    await c.remove();
    await sandbox.kill();
    await sandbox.remove();
    await waitFor('the sandbox deleted', () => rec.of(sandbox.id).includes('deleted'));

    assert.deepEqual(rec.of(c.id), ['created', 'started', 'stopped', 'deleted']);
    assert.deepEqual(rec.of(sandbox.id), ['created', 'started', 'stopped', 'deleted']);
    assert.deepEqual(rec.of(other.id), []);
    assert.ok(rec.events.every((e) => e.sandboxId === sandbox.id));
    assert.ok(rec.events.every((e) => e.isSandbox === (e.containerId === sandbox.id)));
    const times = rec.events.map((e) => e.createdAtNs);
    assert.deepEqual(
      times,
      [...times].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    );
    assert.ok(times[0]! > BigInt(Date.now() - 60_000) * 1_000_000n);
  } finally {
    await watcher.close();
  }
});

test('after an engine restart the watcher reconnects: the changes meanwhile once each, then new events', async () => {
  const rec = recorder();
  const old = await env.createSandbox('k8s_POD_old_default_uid3_0');
  await old.start();
  const gone = await env.createSandbox('k8s_POD_gone_default_uid3_0');
  const watcher = new DockerEventWatcher({ engine: env.connection, onEvent: (e) => rec.events.push(e) });
  await watcher.start();
  try {
    const sandbox = await env.createSandbox('k8s_POD_rs_default_uid3_0');
    await sandbox.start();
    await waitFor('the sandbox started', () => rec.of(sandbox.id).includes('started'));
    await env.engine.restart(); // without live-restore the engine stops its containers
    await gone.remove();
    await waitFor('the gone sandbox deleted', () => rec.of(gone.id).includes('deleted'), 30_000);
    const c = await env.createContainer(sandbox.id, 'k8s_app_rs_default_uid3_0', ['sleep', '3600']);
    await sandbox.start();
    await c.start();
    await waitFor('the new container started', () => rec.of(c.id).includes('started'), 30_000);
    await waitFor('the sandbox started again', () => rec.of(sandbox.id).length === 4);

    // Existing before start(): no replay of its past, only its stop by the engine's shutdown.
    assert.deepEqual(rec.of(old.id), ['stopped']);
    assert.deepEqual(rec.of(gone.id), ['deleted']);
    assert.deepEqual(rec.of(sandbox.id), ['created', 'started', 'stopped', 'started']);
    assert.deepEqual(rec.of(c.id), ['created', 'started']);
    assert.deepEqual(
      rec.events.filter((e) => e.containerId === c.id).map((e) => [e.isSandbox, e.sandboxId]),
      [
        [false, sandbox.id],
        [false, sandbox.id],
      ],
    );
  } finally {
    await watcher.close();
  }
});
