// The names an imported image gets, from what the archive says about it.
//
// OCI image layout (index.json entries), as containerd's import reads them:
//  - `io.containerd.image.name` holds a full reference (`docker.io/library/busybox:1.36`); it wins.
//  - else `org.opencontainers.image.ref.name`: when it has a `/`, `:` or `@` it is taken as a full
//    reference too; otherwise it is only a tag (`1.36`, what skopeo and most tools write), and a
//    tag alone names no repository. It is used with `baseName` (`--base-name` of containerd's
//    `ctr import`): `<baseName>:<tag>`. Without a base name the tag is skipped with a warning and
//    the image is imported without a name (listed as <none>, usable by its ID).
// docker save (manifest.json): every `RepoTags` entry, familiar names normalised.
//
// Names that do not parse are skipped with a warning; they never fail an import.
import { invalidArgument } from '../errors/errors.ts';
import type { Digest } from '../oci/digest.ts';
import { type ImageReference, parseReference } from '../oci/reference.ts';

export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';
export const ANNOTATION_CONTAINERD_NAME = 'io.containerd.image.name';

export interface ArchiveNames {
  /** Normalised `name:tag` references. */
  repoTags: string[];
  /** Normalised `name@digest` references. */
  repoDigests: string[];
  warnings: string[];
}

/** Checks a `--base-name`: a repository, without tag or digest. Returns it normalised (`docker.io/library/x`). */
export function parseBaseName(baseName: string): ImageReference {
  const ref = parseReference(baseName, { defaultTag: false });
  if (ref.tag !== undefined || ref.digest !== undefined) {
    throw invalidArgument('bad-reference', `base name "${baseName}" must be a repository, without tag or digest`, {
      fields: { baseName },
    });
  }
  return ref;
}

/**
 * Names of an index.json entry whose descriptor has `digest`. Every name gets a tag and, as a pull
 * of it would have recorded, a repo digest `name@digest`: the archive's manifest (or index) bytes
 * are what the registry served under that name when the archive was copied from one.
 */
export function ociEntryNames(annotations: Record<string, string> | undefined, digest: Digest, baseName?: ImageReference): ArchiveNames {
  const out: ArchiveNames = { repoTags: [], repoDigests: [], warnings: [] };
  const full = annotations?.[ANNOTATION_CONTAINERD_NAME];
  const refName = annotations?.[ANNOTATION_REF_NAME];
  let candidate: string | undefined;
  if (full !== undefined && full !== '') candidate = full;
  else if (refName !== undefined && refName !== '') {
    if (/[/:@]/.test(refName)) candidate = refName;
    else if (baseName !== undefined) candidate = `${baseName.name}:${refName}`;
    else {
      out.warnings.push(
        `${digest}: "${refName}" is only a tag (${ANNOTATION_REF_NAME}) and names no repository; imported without a name (give a base name to tag it)`,
      );
      return out;
    }
  }
  if (candidate === undefined) return out;
  let ref: ImageReference;
  try {
    ref = parseReference(candidate);
  } catch (e) {
    out.warnings.push(`${digest}: skipped the name "${candidate}": ${(e as Error).message}`);
    return out;
  }
  if (ref.digest !== undefined && ref.digest !== digest) {
    out.warnings.push(`${digest}: skipped the name "${candidate}": its digest is not the archive's ${digest}`);
    return out;
  }
  if (ref.tag !== undefined) out.repoTags.push(ref.repository().withTag(ref.tag).string());
  out.repoDigests.push(ref.withDigest(digest).string());
  return out;
}

/** Names of a docker-save manifest.json entry: its RepoTags, normalised. No repo digests (no registry manifest). */
export function dockerSaveNames(repoTags: readonly string[], what: string): ArchiveNames {
  const out: ArchiveNames = { repoTags: [], repoDigests: [], warnings: [] };
  for (const tag of repoTags) {
    try {
      const ref = parseReference(tag);
      if (ref.tag === undefined) throw invalidArgument('bad-reference', 'no tag');
      out.repoTags.push(ref.repository().withTag(ref.tag).string());
    } catch (e) {
      out.warnings.push(`${what}: skipped the name "${tag}": ${(e as Error).message}`);
    }
  }
  return out;
}
