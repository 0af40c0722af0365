// What an import planner works with and what it produces: the plan of one image of an archive,
// made from what the first read of the archive found (import-archive-scan.ts). One planner per
// archive format: import-plan-oci.ts, import-plan-docker.ts.
import { failedPrecondition } from '../errors/errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { Descriptor } from '../oci/image-spec.ts';
import type { Platform } from '../oci/platform.ts';
import type { ImageReference } from '../oci/reference.ts';
import type { ArchiveNames } from './archive-names.ts';
import type { LayerRecord } from './image-store.ts';
import { type ArchiveContents, badArchive, type MemberInfo } from './import-archive-scan.ts';

export interface ImagePlan {
  /** Where the image comes from, for messages: `index.json manifests[0]`, `manifest.json[1]`. */
  source: string;
  names: ArchiveNames;
  manifest: { digest: Digest; mediaType: string; size: number };
  config: { digest: Digest; size: number };
  layers: LayerRecord[];
  chainIds: Digest[];
  contentRefs: Digest[];
  /** Blobs this image needs that only memory holds so far (made manifest, docker-save config). */
  inMemory: Map<Digest, Buffer>;
  /** Docker-save layers that a second read must store: archive path → expected blob. */
  pending: Map<string, { digest: Digest; size: number }>;
}

/** What a planner may ask of the import. */
export interface PlanContext {
  /** The archive's path, for messages. */
  file: string;
  platform: Platform;
  /** Repository for OCI entries whose ref.name is only a tag. */
  baseName: ImageReference | undefined;
  /** The archive's regular files and links, as the first read saw them. */
  contents: ArchiveContents;
  warn(message: string): void;
  /** The blob's size in the content store (leasing it for the import), or undefined when absent. */
  blobSize(digest: Digest): Promise<number | undefined>;
  /** A manifest, index or config from the content store, checked against its descriptor and the metadata limit. */
  readSmallBlob(desc: { digest: Digest; size: number }, what: string): Promise<Buffer>;
  /** The first bytes of a stored blob (its magic numbers). */
  headOfBlob(digest: Digest): Promise<Buffer>;
  /** The descriptors of `manifests` that the content store holds. */
  present(manifests: readonly Descriptor[]): Promise<Descriptor[]>;
}

/** A planner: the images of an archive of its format, from the member that identifies the format. */
export type ArchivePlanner = (ctx: PlanContext, metadata: Buffer) => Promise<ImagePlan[]>;

export function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw badArchive('bad-archive', `${what}: not JSON (${(e as Error).message})`);
  }
}

/** A member that manifest.json or index.json names, checked as a member name and looked up. */
export function namedMember(ctx: PlanContext, p: string, what: string): MemberInfo {
  const info = ctx.contents.lookup(ctx.contents.checkedPath(p, what));
  if (info === undefined) throw badArchive('archive-blob-missing', `${ctx.file}: ${what} "${p}" is not in the archive`, { member: p });
  return info;
}

/** Images with the same ID are one image: their names are merged. */
export function mergePlans(plans: ImagePlan[]): ImagePlan[] {
  const byId = new Map<string, ImagePlan>();
  for (const plan of plans) {
    const seen = byId.get(plan.config.digest);
    if (seen === undefined) {
      byId.set(plan.config.digest, plan);
      continue;
    }
    const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];
    seen.names = {
      repoTags: union(seen.names.repoTags, plan.names.repoTags),
      repoDigests: union(seen.names.repoDigests, plan.names.repoDigests),
      warnings: [],
    };
    seen.contentRefs = union(seen.contentRefs, plan.contentRefs) as Digest[];
    for (const [d, b] of plan.inMemory) seen.inMemory.set(d, b);
    for (const [p, b] of plan.pending) seen.pending.set(p, b);
  }
  return [...byId.values()];
}

export function checkSize(ctx: PlanContext, desc: { digest: Digest; size: number }, actual: number, what: string): void {
  if (actual !== desc.size) {
    throw failedPrecondition('size-mismatch', `${ctx.file}: ${what} ${desc.digest} has ${actual} bytes, its descriptor says ${desc.size}`, {
      fields: { digest: desc.digest, expected: desc.size, actual },
    });
  }
}
