// Archives written by real tools: an OCI image made with umoci, copied by skopeo to
// `oci-archive:` and `docker-archive:` (Debian packages `skopeo`, `umoci`, installed by
// scripts/install-test-deps.sh); the shapes they write are also built by hand in image-import.test.ts.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../test/support/tmp.ts';
import { FileContentStore } from '../content/file-content-store.ts';
import { mountAll, unmount } from '../snapshot/mount.ts';
import { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.ts';
import { MetadataStore } from '../store/metadata-store.ts';
import { KeyedLock } from '../util/keyed-lock.ts';
import { silentLogger } from '../util/logger.ts';
import { importArchive } from './image-import.ts';
import { ImageStore } from './image-store.ts';

test('skopeo oci-archive and docker-archive of an umoci image', async () => {
  await using tmp = await makeTempDir('berth-import-tools-');
  const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { cwd: tmp.path, stdio: ['ignore', 'pipe', 'pipe'] });
  run('umoci', 'init', '--layout', 'oci');
  run('umoci', 'new', '--image', 'oci:base');
  run('umoci', 'unpack', '--image', 'oci:base', 'bundle');
  await mkdir(path.join(tmp.path, 'bundle/rootfs/etc'), { recursive: true });
  await writeFile(path.join(tmp.path, 'bundle/rootfs/etc/umoci.txt'), 'made by umoci\n');
  run('umoci', 'repack', '--image', 'oci:base', 'bundle');
  run('umoci', 'config', '--image', 'oci:base', '--os', 'linux', '--architecture', 'amd64', '--config.cmd', '/bin/true');
  run('skopeo', 'copy', 'oci:oci:base', 'oci-archive:oci.tar:1.0');
  run('skopeo', 'copy', 'oci:oci:base', 'docker-archive:docker.tar:localhost:5000/team/umoci:2.0');

  const meta = new MetadataStore(path.join(tmp.path, 'meta.db'));
  try {
    const snapshotter = await OverlaySnapshotter.open(path.join(tmp.path, 'snapshots'));
    const deps = {
      content: new FileContentStore(path.join(tmp.path, 'content')),
      snapshotter,
      images: new ImageStore(meta),
      platform: { os: 'linux', architecture: 'amd64' },
      unpackLock: new KeyedLock(),
      gcLock: new KeyedLock(),
      logger: silentLogger(),
    };
    const read = async (top: string, file: string) => {
      const target = path.join(tmp.path, 'mnt');
      await mkdir(target, { recursive: true });
      await mountAll(await snapshotter.view('v', top), target);
      try {
        return await readFile(path.join(target, file), 'utf8');
      } finally {
        await unmount(target);
        await snapshotter.remove('v');
      }
    };

    // skopeo writes ref.name "1.0" only: a base name gives the repository.
    const [oci] = await importArchive(deps, path.join(tmp.path, 'oci.tar'), { baseName: 'localhost:5000/team/umoci' });
    assert.deepEqual(oci?.repoTags, ['localhost:5000/team/umoci:1.0']);
    assert.equal(oci?.repoDigests.length, 1);
    assert.equal(await read(oci!.chainIds.at(-1)!, 'etc/umoci.txt'), 'made by umoci\n');

    // docker-archive: `<diffID>.tar` layers, `<id>/layer.tar` symlinks, `<config>.json`.
    const [docker] = await importArchive(deps, path.join(tmp.path, 'docker.tar'));
    assert.equal(docker?.id, oci?.id, 'the same image');
    assert.ok(docker?.repoTags.includes('localhost:5000/team/umoci:2.0'));
    assert.ok(docker?.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar' && l.digest === l.diffId));
    assert.equal(await read(docker!.chainIds.at(-1)!, 'etc/umoci.txt'), 'made by umoci\n');
  } finally {
    meta.close();
  }
});
