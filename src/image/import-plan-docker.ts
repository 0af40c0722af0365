// The planner for a `docker save` archive (`manifest.json` with Config, RepoTags, Layers). Layers
// are uncompressed tars (`<id>/layer.tar`, or `blobs/sha256/<hex>` since Docker 25; gzip or zstd
// ones are recognised too); each must hash to the config's diff_id. They are stored as blobs of
// media type `application/vnd.docker.image.rootfs.diff.tar` (digest = diffID), and a Docker
// schema 2 manifest over them is made and stored, as containerd does, so that every image has one.
// A layer that is not a `blobs/` member has no digest in its name: the plan lists it as pending,
// for a second read of the archive to store. docker-save images get no repo digest.
import { failedPrecondition, invalidArgument } from '../errors/errors.ts';
import { chainIds as chainIdsOf } from '../oci/chain-id.ts';
import { type Digest, sha256Digest } from '../oci/digest.ts';
import { type ImageConfig, MediaType, parseImageConfig } from '../oci/image-spec.ts';
import { type ArchiveNames, dockerSaveNames } from './archive-names.ts';
import type { LayerRecord } from './image-store.ts';
import { badArchive } from './import-archive-scan.ts';
import { type ImagePlan, namedMember, type PlanContext, parseJson } from './import-plan.ts';

function compressionOf(head: Buffer): 'none' | 'gzip' | 'zstd' {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd';
  return 'none';
}

/** The images manifest.json lists. */
export async function planDockerSave(ctx: PlanContext, bytes: Buffer): Promise<ImagePlan[]> {
  const list = parseJson(bytes, 'manifest.json');
  if (!Array.isArray(list)) throw badArchive('bad-archive', `${ctx.file}: manifest.json is not a list`);
  const plans: ImagePlan[] = [];
  for (const [i, raw] of list.entries()) {
    const source = `manifest.json[${i}]`;
    const entry = raw as { Config?: unknown; RepoTags?: unknown; Layers?: unknown } | null;
    const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
    if (entry === null || typeof entry !== 'object' || typeof entry.Config !== 'string' || !strings(entry.Layers)) {
      throw badArchive('bad-archive', `${ctx.file}: ${source} needs a Config path and a list of Layers`);
    }
    if (entry.RepoTags !== undefined && entry.RepoTags !== null && !strings(entry.RepoTags)) {
      throw badArchive('bad-archive', `${ctx.file}: ${source}: RepoTags must be a list of names`);
    }
    const names = dockerSaveNames((entry.RepoTags as string[] | null | undefined) ?? [], source);
    for (const w of names.warnings) ctx.warn(w);
    plans.push(await planDockerImage(ctx, source, entry.Config, entry.Layers as string[], names));
  }
  return plans;
}

async function planDockerImage(
  ctx: PlanContext,
  source: string,
  configPath: string,
  layerPaths: string[],
  names: ArchiveNames,
): Promise<ImagePlan> {
  const inMemory = new Map<Digest, Buffer>();
  const configMember = namedMember(ctx, configPath, `${source} config`);
  let configBytes: Buffer;
  if (configMember.blob) configBytes = await ctx.readSmallBlob(configMember, 'image config');
  else if (configMember.data !== undefined) {
    configBytes = configMember.data;
    inMemory.set(configMember.digest, configBytes);
  } else {
    throw badArchive('bad-archive', `${ctx.file}: ${source}: the config "${configPath}" is neither a blob nor a top-level JSON file`);
  }
  const config: ImageConfig = parseImageConfig(configBytes);
  const configDigest = configMember.blob ? configMember.digest : sha256Digest(configBytes);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== layerPaths.length) {
    throw invalidArgument(
      'bad-manifest',
      `${ctx.file}: ${source} lists ${layerPaths.length} layers but its config names ${diffIds.length}`,
    );
  }
  const layers: LayerRecord[] = [];
  const pending = new Map<string, { digest: Digest; size: number }>();
  for (const [i, layerPath] of layerPaths.entries()) {
    const member = namedMember(ctx, layerPath, `${source} layer`);
    let head = member.head;
    if (member.blob && head.length === 0 && member.size > 0) head = await ctx.headOfBlob(member.digest);
    const compression = compressionOf(head);
    const mediaType =
      compression === 'gzip' ? MediaType.dockerLayerGzip : compression === 'zstd' ? MediaType.dockerLayerZstd : MediaType.dockerLayer;
    // An uncompressed layer is its own diffID: check now. A compressed one is checked as it unpacks.
    if (compression === 'none' && member.digest !== diffIds[i]) {
      throw failedPrecondition(
        'diff-id-mismatch',
        `${ctx.file}: ${source}: layer "${layerPath}" has digest ${member.digest}, but the config's diff_ids[${i}] is ${diffIds[i]}`,
        { fields: { layer: layerPath, expected: diffIds[i], actual: member.digest } },
      );
    }
    layers.push({ digest: member.digest, size: member.size, mediaType, diffId: diffIds[i]! });
    if (!member.blob) pending.set(ctx.contents.resolve(layerPath), { digest: member.digest, size: member.size });
  }
  // Docker's own image has no manifest: make the schema 2 manifest a registry would serve.
  const manifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifest,
    config: { mediaType: MediaType.dockerConfig, size: configBytes.length, digest: configDigest },
    layers: layers.map((l) => ({ mediaType: l.mediaType, size: l.size, digest: l.digest })),
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifestJson));
  const manifestDigest = sha256Digest(manifestBytes);
  inMemory.set(manifestDigest, manifestBytes);
  return {
    source,
    names,
    manifest: { digest: manifestDigest, mediaType: MediaType.dockerManifest, size: manifestBytes.length },
    config: { digest: configDigest, size: configBytes.length },
    layers,
    chainIds: chainIdsOf(diffIds),
    contentRefs: [manifestDigest, configDigest, ...layers.map((l) => l.digest)],
    inMemory,
    pending,
  };
}
