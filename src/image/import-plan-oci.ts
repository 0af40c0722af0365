// The planner for an OCI image layout (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`): skopeo's
// `oci-archive:`, `ctr export`, buildx `type=oci`, `docker save` since Docker 25. An index.json
// entry that is itself an index (multi-platform) gives the manifest for this node's platform;
// entries for other platforms are skipped. Each entry also gets the repo digest
// `name@<entry digest>` (what a pull of that name records).
import { invalidArgument } from '../errors/errors.ts';
import { chainIds as chainIdsOf } from '../oci/chain-id.ts';
import type { Digest } from '../oci/digest.ts';
import {
  type Descriptor,
  isIndexMediaType,
  isManifestMediaType,
  MediaType,
  parseImageConfig,
  parseIndex,
  parseManifest,
} from '../oci/image-spec.ts';
import { formatPlatform, platformMatcher, selectManifest } from '../oci/platform.ts';
import { type ArchiveNames, ociEntryNames } from './archive-names.ts';
import type { LayerRecord } from './image-store.ts';
import { badArchive } from './import-archive-scan.ts';
import { checkSize, type ImagePlan, type PlanContext, parseJson } from './import-plan.ts';

const OCI_LAYOUT_VERSION = '1.0.0';
const MAX_INDEX_DEPTH = 4;

/** The images of index.json for this node's platform. */
export async function planOciLayout(ctx: PlanContext, indexBytes: Buffer): Promise<ImagePlan[]> {
  const layout = ctx.contents.files.get('oci-layout');
  if (layout?.data !== undefined) {
    const version = (parseJson(layout.data, 'oci-layout') as { imageLayoutVersion?: unknown } | null)?.imageLayoutVersion;
    if (version !== OCI_LAYOUT_VERSION) {
      throw badArchive('bad-archive', `${ctx.file}: unsupported OCI layout version ${JSON.stringify(version)}`, { version });
    }
  }
  const index = parseIndex(indexBytes, MediaType.ociIndex);
  const matcher = platformMatcher(ctx.platform);
  const plans: { plan: ImagePlan; rank: number }[] = [];
  for (const [i, entry] of index.manifests.entries()) {
    const source = `index.json manifests[${i}]`;
    let rank = 0;
    if (entry.platform !== undefined) {
      rank = matcher.rank(entry.platform);
      if (rank < 0) {
        ctx.warn(`${source}: skipped ${entry.digest}, an image for ${formatPlatform(entry.platform)}`);
        continue;
      }
    }
    if (!isIndexMediaType(entry.mediaType) && !isManifestMediaType(entry.mediaType)) {
      ctx.warn(`${source}: skipped ${entry.digest} of media type ${entry.mediaType}: not an image`);
      continue;
    }
    const names = ociEntryNames(entry.annotations, entry.digest, ctx.baseName);
    for (const w of names.warnings) ctx.warn(w);
    plans.push({ plan: await planOciImage(ctx, entry, source, names), rank });
  }
  // When several entries suit this platform, the best one is recorded last and keeps the tags.
  return plans.sort((a, b) => b.rank - a.rank).map((p) => p.plan);
}

async function planOciImage(ctx: PlanContext, entry: Descriptor, source: string, names: ArchiveNames): Promise<ImagePlan> {
  const contentRefs: Digest[] = [];
  let desc = entry;
  for (let depth = 0; isIndexMediaType(desc.mediaType); depth++) {
    if (depth >= MAX_INDEX_DEPTH) throw badArchive('bad-archive', `${ctx.file}: ${source}: indexes nested too deep`);
    const index = parseIndex(await ctx.readSmallBlob(desc, 'index'), desc.mediaType);
    contentRefs.push(desc.digest);
    // Choose among the manifests the archive holds: `docker save` keeps only some platforms.
    desc = selectManifest({ ...index, manifests: await ctx.present(index.manifests) }, ctx.platform);
  }
  const manifestBytes = await ctx.readSmallBlob(desc, 'manifest');
  const manifest = parseManifest(manifestBytes, desc.mediaType);
  contentRefs.push(desc.digest);
  const config = parseImageConfig(await ctx.readSmallBlob(manifest.config, 'image config'));
  contentRefs.push(manifest.config.digest);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw invalidArgument(
      'bad-manifest',
      `${ctx.file}: ${source}: the manifest has ${manifest.layers.length} layers but the config names ${diffIds.length}`,
    );
  }
  const layers: LayerRecord[] = [];
  for (const [i, layer] of manifest.layers.entries()) {
    const size = await ctx.blobSize(layer.digest);
    if (size === undefined) {
      throw badArchive('archive-blob-missing', `${ctx.file}: ${source}: layer ${layer.digest} is not in the archive`, {
        digest: layer.digest,
      });
    }
    checkSize(ctx, layer, size, 'layer');
    layers.push({ digest: layer.digest, size: layer.size, mediaType: layer.mediaType, diffId: diffIds[i]! });
    contentRefs.push(layer.digest);
  }
  return {
    source,
    names,
    manifest: { digest: desc.digest, mediaType: desc.mediaType, size: manifestBytes.length },
    config: { digest: manifest.config.digest, size: manifest.config.size },
    layers,
    chainIds: chainIdsOf(diffIds),
    contentRefs,
    inMemory: new Map(),
    pending: new Map(),
  };
}
