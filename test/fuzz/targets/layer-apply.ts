// The layer applier on real overlay snapshots: whatever the tar says, nothing may be written
// outside the snapshot, and a refused layer leaves no snapshot or mount behind.
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { applyLayer } from '../../../src/image/layer-apply.ts';
import { OverlaySnapshotter } from '../../../src/snapshot/overlay-snapshotter.ts';
import { makeTempDir, type TempDir } from '../../support/tmp.ts';
import type { FuzzTarget } from '../engine.ts';
import { invariant, refusalOrResult, words } from '../expect.ts';
import { layerSeeds } from './layer-seeds.ts';

/** Every path under `dir`, except below `skip`, with its type and size. */
async function tree(dir: string, skip: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = path.join(d, name);
      if (p === skip) continue;
      const st = await lstat(p);
      out.push(`${path.relative(dir, p)} ${st.mode.toString(8)} ${st.isDirectory() ? 0 : st.size}`);
      if (st.isDirectory()) await walk(p);
    }
  };
  await walk(dir);
  return out;
}

interface ApplyEnv {
  tmp: TempDir;
  snapshotter: OverlaySnapshotter;
  snapRoot: string;
  tempDir: string;
  outsideBefore: string[];
}

let env: ApplyEnv | undefined;
let n = 0;

async function setUp(): Promise<ApplyEnv> {
  const tmp = await makeTempDir('berth-fuzz-apply-');
  // Deep, so that "../../.." from a snapshot directory still lands inside the temp dir and is seen.
  const snapRoot = path.join(tmp.path, 'a', 'b', 'c', 'snapshots-root');
  const tempDir = path.join(tmp.path, 'mnt');
  await mkdir(tempDir, { recursive: true });
  await writeFile(path.join(tmp.path, 'canary'), 'untouched');
  const snapshotter = await OverlaySnapshotter.open(snapRoot);
  await applyLayer({
    snapshotter,
    key: 'base-active',
    blob: Readable.from([layerSeeds()[0]!]),
    mediaType: 'application/vnd.oci.image.layer.v1.tar',
    tempDir,
    sync: false,
  });
  await snapshotter.commit('base', 'base-active');
  return { tmp, snapshotter, snapRoot, tempDir, outsideBefore: await tree(tmp.path, snapRoot) };
}

export const layerApplyTarget: FuzzTarget = {
  name: 'layer-apply',
  cover: ['/src/image/layer-', '/src/snapshot/'],
  maxLength: 8 * 1024,
  dictionary: words('ustar\x0000', '.wh.', '.wh..wh..opq', '../', '/etc/', 'SCHILY.xattr.user.', 'path=', 'linkpath=', '\x00'),
  seeds: layerSeeds,
  async run(input) {
    env ??= await setUp();
    const key = `fuzz-${n++}`;
    const parent = n % 2 === 0 ? 'base' : undefined;
    const applied = await refusalOrResult(() =>
      applyLayer({
        snapshotter: env!.snapshotter,
        key,
        parent,
        blob: Readable.from([input]),
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        tempDir: env!.tempDir,
        sync: false,
      }),
    );
    const outside = await tree(env.tmp.path, env.snapRoot);
    invariant(
      JSON.stringify(outside) === JSON.stringify(env.outsideBefore),
      `the layer wrote outside its snapshot: ${outside.filter((p) => !env!.outsideBefore.includes(p)).join(', ')}`,
    );
    const active = (await env.snapshotter.list()).filter((s) => s.key === key);
    invariant(applied !== undefined || active.length === 0, 'a refused layer left its snapshot');
    if (applied) await env.snapshotter.remove(key);
    invariant((await readdir(env.tempDir)).length === 0, 'a temporary mount directory was left');
  },
  async close() {
    if (!env) return;
    await env.snapshotter.remove('base').catch(() => {});
    await rm(env.tmp.path, { recursive: true, force: true });
    env = undefined;
  },
};
