// A registry that sends manifests and configs one byte at a time, never stalling long enough for
// the no-progress timeout: the overall deadline ends the pull with DEADLINE_EXCEEDED.
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { startDaemon, type TestDaemon } from '../support/daemon.ts';
import { pushImage, tinyImage } from '../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { startTamperingProxy, type TamperingProxy } from '../support/tampering-proxy.ts';
import { assertNoLeftovers, expectCriError, setUpAndTearDown } from './support.ts';

let registry: TestRegistry;
let proxy: TamperingProxy;
let daemon: TestDaemon;

setUpAndTearDown(
  async () => {
    registry = await startRegistry();
    proxy = await startTamperingProxy(registry);
    daemon = await startDaemon({
      registries: { [proxy.host]: { mirrors: [], insecure: true } },
      extraConfig: '[image]\npull_progress_timeout = "2s"\nmanifest_timeout = "3s"\n',
    });
  },
  async () => {
    const left = await daemon?.stop();
    await proxy?.stop();
    await registry?.stop();
    assert.deepEqual(left ?? [], []);
  },
);

afterEach(() => proxy?.clearRules());

describe('a registry that trickles', () => {
  for (const what of ['manifest', 'config'] as const) {
    test(`a ${what} at one byte every 300 ms: DEADLINE_EXCEEDED at the manifest deadline`, async () => {
      const pushed = await pushImage(registry, `slow/${what}:1`, tinyImage({ files: { [`${what}.txt`]: what } }));
      const path = what === 'manifest' ? /\/manifests\// : new RegExp(`/blobs/${pushed.configDigest}`);
      proxy.tamper(path, { kind: 'trickle', intervalMs: 300 }, { method: 'GET' });
      const ref = `${proxy.host}/slow/${what}:1`;
      const error = await expectCriError(daemon.cri.image.pullImage({ image: { image: ref } }), 'DEADLINE_EXCEEDED', /within 3000 ms/);
      assert.equal(error.code, 'read-deadline');
      await assertNoLeftovers(daemon, ref);
      proxy.clearRules();
      assert.equal((await daemon.cri.image.pullImage({ image: { image: ref } })).imageRef, pushed.configDigest, 'untampered, it pulls');
    });
  }
});
