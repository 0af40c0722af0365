import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { probeOciRuntime } from './daemon-runtime-probe.ts';

test('a runtime that runs a container passes the probe; one that cannot, or is missing, fails it; nothing is left', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-probe-test-'));
  try {
    assert.deepEqual(await probeOciRuntime('/usr/sbin/runc', dir), { ok: true });
    const failing = await probeOciRuntime('/bin/false', dir);
    assert.equal(failing.ok, false);
    const missing = await probeOciRuntime(path.join(dir, 'no-such-runtime'), dir);
    assert.equal(missing.ok, false);
    assert.match(missing.message ?? '', /ENOENT/);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
