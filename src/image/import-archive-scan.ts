// The first read of an archive to import: every member name is checked (archive-tar.ts);
// `blobs/<alg>/<hex>` members go straight into the content store, verified against their name;
// other members are hashed, and small JSON files (index.json, manifest.json, configs) kept in
// memory. What it finds is an ArchiveContents, which the planners read.
import { createHash } from 'node:crypto';
import { type BerthError, type CodeOfKind, invalidArgument } from '../errors/errors.ts';
import { type Digest, isDigest, sha256Digest } from '../oci/digest.ts';
import { type ArchiveMember, archivePath, readArchive, resolveLink } from './archive-tar.ts';

/** A regular file of the archive, as the first read saw it. */
export interface MemberInfo {
  path: string;
  size: number;
  /** For a `blobs/` member the digest its name gives (verified when stored); else the sha256 of its bytes. */
  digest: Digest;
  /** The first bytes (magic numbers), when the member was read. */
  head: Buffer;
  /** Bytes of a small JSON member, kept in memory. */
  data?: Buffer;
  /** Stored in the content store under `digest` during the first read. */
  blob: boolean;
}

export interface ScanLimits {
  /** Largest JSON member read into memory. */
  maxMetadataBytes: number;
  /** All JSON members kept in memory together. */
  maxMetadataTotalBytes: number;
  /** Largest member of any kind. */
  maxMemberBytes: number;
  /** Most members in the archive. */
  maxMembers: number;
}

export interface ScanOptions {
  limits: ScanLimits;
  signal: AbortSignal | undefined;
  /** Stores a `blobs/` member under the digest its name gives. */
  ingest: (expected: { digest: Digest; size: number }, source: AsyncIterable<Uint8Array>) => Promise<void>;
}

const MAX_LINK_HOPS = 16;
const BLOB_PATH_RE = /^blobs\/(sha256|sha512)\/([a-f0-9]+)$/;
const METADATA_NAMES = new Set(['oci-layout', 'index.json', 'manifest.json', 'repositories']);

export function badArchive(code: CodeOfKind<'invalid-argument'>, message: string, fields: Record<string, unknown> = {}): BerthError {
  return invalidArgument(code, message, { fields });
}

export function memberTooLarge(file: string, member: string, size: number, limit: number): BerthError {
  return badArchive('archive-member-too-large', `${file}: the member "${member}" has ${size} bytes, more than the ${limit} allowed`, {
    member,
    size,
    limit,
  });
}

function blobDigestOfPath(p: string): Digest | undefined {
  const m = BLOB_PATH_RE.exec(p);
  if (!m) return undefined;
  const d = `${m[1]}:${m[2]}`;
  return isDigest(d) ? d : undefined;
}

function isMetadataPath(p: string): boolean {
  return METADATA_NAMES.has(p) || (!p.includes('/') && p.endsWith('.json'));
}

/** Passes the member's bytes through, keeping the first few. */
async function* peek(body: AsyncIterable<Buffer>, head: { bytes: Buffer }): AsyncIterable<Buffer> {
  for await (const chunk of body) {
    if (head.bytes.length < 8) head.bytes = Buffer.concat([head.bytes, chunk.subarray(0, 8 - head.bytes.length)]);
    yield chunk;
  }
}

/** The regular files and links of an archive, by archive path. */
export class ArchiveContents {
  readonly #file: string;
  readonly files = new Map<string, MemberInfo>();
  readonly links = new Map<string, string>();

  constructor(file: string) {
    this.#file = file;
  }

  /** A regular file by archive path, links followed. */
  lookup(p: string): MemberInfo | undefined {
    let current = p;
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const target = this.links.get(current);
      if (target === undefined) return this.files.get(current);
      current = target;
    }
    throw badArchive('bad-archive', `${this.#file}: too many links from "${p}"`, { member: p });
  }

  /** The archive path a member name leads to, links followed. */
  resolve(p: string): string {
    let current = archivePath(p);
    for (let hops = 0; hops <= MAX_LINK_HOPS; hops++) {
      const target = this.links.get(current);
      if (target === undefined) return current;
      current = target;
    }
    return current;
  }

  /** A path that manifest.json names, checked like a member name. */
  checkedPath(p: string, what: string): string {
    try {
      return archivePath(p);
    } catch (e) {
      throw badArchive('archive-unsafe-path', `${this.#file}: ${what} "${p}": ${(e as Error).message}`, { member: p });
    }
  }
}

/** Reads the archive once (see the top of this file). */
export async function scanArchive(file: string, options: ScanOptions): Promise<ArchiveContents> {
  const contents = new ArchiveContents(file);
  const { limits } = options;
  let metadataBytes = 0;
  const tooLarge = (member: string, size: number, limit: number) => memberTooLarge(file, member, size, limit);

  const scanFile = async (member: ArchiveMember): Promise<MemberInfo> => {
    const head = { bytes: Buffer.alloc(0) };
    const blobDigest = blobDigestOfPath(member.path);
    if (blobDigest !== undefined) {
      await options.ingest({ digest: blobDigest, size: member.size }, peek(member.body, head));
      return { path: member.path, size: member.size, digest: blobDigest, head: head.bytes, blob: true };
    }
    if (isMetadataPath(member.path)) {
      if (member.size > limits.maxMetadataBytes) throw tooLarge(member.path, member.size, limits.maxMetadataBytes);
      metadataBytes += member.size;
      if (metadataBytes > limits.maxMetadataTotalBytes) {
        throw badArchive('archive-member-too-large', `${file}: more than ${limits.maxMetadataTotalBytes} bytes of JSON members`);
      }
      const chunks: Buffer[] = [];
      for await (const chunk of member.body) chunks.push(chunk);
      const data = Buffer.concat(chunks);
      return { path: member.path, size: data.length, digest: sha256Digest(data), head: data.subarray(0, 8), data, blob: false };
    }
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of peek(member.body, head)) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { path: member.path, size, digest: `sha256:${hash.digest('hex')}` as Digest, head: head.bytes, blob: false };
  };

  let count = 0;
  for await (const member of readArchive(file, { signal: options.signal })) {
    if (++count > limits.maxMembers) {
      throw badArchive('archive-too-many-members', `${file}: more than ${limits.maxMembers} members`);
    }
    if (member.type !== 'file' && member.type !== 'symlink' && member.type !== 'hardlink') continue;
    if (contents.files.has(member.path) || contents.links.has(member.path)) {
      throw badArchive('bad-archive', `${file}: the member "${member.path}" appears twice`, { member: member.path });
    }
    if (member.type !== 'file') {
      contents.links.set(member.path, resolveLink(member.path, member.linkpath ?? '', member.type));
      continue;
    }
    if (member.size > limits.maxMemberBytes) throw tooLarge(member.path, member.size, limits.maxMemberBytes);
    contents.files.set(member.path, await scanFile(member));
  }
  return contents;
}
