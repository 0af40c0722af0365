// The node's pod clean-up hook (PodHousekeeper.cleanupPods): called after relists with every pod
// the node still has, one call at a time, so that a provider can release what it keeps outside
// the runtime (the cri provider's volume directories) for the other pods only.
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { runNode } from '../../src/agent/node.ts';
import type { PodHousekeeper } from '../../src/agent/provider.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { RecordingProvider } from './support/recording-provider.ts';
import { waitFor } from './support/wait-for.ts';

const manifest = (name: string) =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n  containers: [{name: c, image: busybox}]\n`;

class HousekeepingProvider extends RecordingProvider implements PodHousekeeper {
  readonly cleanups: Set<string>[] = [];
  #inCall = false;
  overlappingCleanups = false;

  async cleanupPods(activeUids: ReadonlySet<string>): Promise<void> {
    if (this.#inCall) this.overlappingCleanups = true;
    this.#inCall = true;
    this.cleanups.push(new Set(activeUids));
    // Two relists happen during this call: the node must not call again meanwhile.
    const relists = this.getPodsCalls;
    await waitFor('two relists during the clean-up', () => (this.getPodsCalls >= relists + 2 ? true : undefined), { intervalMs: 5 });
    this.#inCall = false;
  }
}

test('cleanupPods gets the wanted, terminating and listed pods, one call at a time; a removed pod drops out', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-node-cleanup-'));
  const provider = new HousekeepingProvider();
  provider.deleteDelayMs = 400;
  // A pod the provider runs that no source has: an orphan the node terminates.
  provider.running.set('orphan-uid', {
    metadata: { name: 'old', namespace: 'default', uid: 'orphan-uid' },
    spec: { containers: [{ name: 'c', image: 'busybox' }] },
  });
  await writeFile(path.join(dir, 'web.yaml'), manifest('web'));
  await writeFile(path.join(dir, 'db.yaml'), manifest('db'));
  const node = await runNode({
    nodeName: 'n1',
    provider,
    logger: silentLogger(),
    manifestDir: dir,
    timings: { relistMs: 30, manifestScanMs: 30, retryBaseMs: 30 },
  });
  try {
    const web = (await waitFor('web listed', () => node.pod('default', 'web-n1'))).metadata.uid!;
    const db = (await waitFor('db listed', () => node.pod('default', 'db-n1'))).metadata.uid!;
    await waitFor('a clean-up with both pods', () => provider.cleanups.find((s) => s.has(web) && s.has(db)));
    // While the orphan is being deleted it stays active; once gone it drops out.
    await waitFor('the orphan deleted', () => (provider.callsFor('orphan-uid').includes('deletePod') ? true : undefined));
    const during = provider.cleanups.length;
    await waitFor(
      'a clean-up while the orphan terminates',
      () => provider.cleanups.slice(during).find((s) => s.has('orphan-uid')) ?? (provider.running.has('orphan-uid') ? undefined : true),
    );
    await waitFor('the orphan out of the active set', () => {
      const last = provider.cleanups.at(-1)!;
      return !provider.running.has('orphan-uid') && !last.has('orphan-uid') && last.has(web) ? true : undefined;
    });

    await unlink(path.join(dir, 'db.yaml'));
    await waitFor('db deleted', () => (!provider.running.has(db) ? true : undefined));
    const after = provider.cleanups.length;
    await waitFor('a later clean-up without db', () => provider.cleanups.slice(after + 1).find((s) => !s.has(db) && s.has(web)));
    assert.equal(provider.overlappingCleanups, false, 'clean-ups never overlap');
  } finally {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
