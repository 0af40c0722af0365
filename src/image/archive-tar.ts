// Streams the members of an image archive (a tar file, possibly gzip- or zstd-compressed) one by
// one, with node-tar's Parser. Nothing is extracted: each member's bytes are handed to the caller
// as an async iterable, and nothing of the archive ever touches the filesystem by its name.
//
// Every member's name is checked here (no absolute names, no `..`, no NUL or backslash) before the
// caller sees it; a bad name fails the whole read. Link targets are resolved inside the archive by
// resolveLink, which refuses targets that would leave it.
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { type BerthError, type CodeOfKind, invalidArgument, isBerthError, toBerthError } from '../errors/errors.ts';
import { abortError } from '../util/abortable.ts';

export type ArchiveCompression = 'none' | 'gzip' | 'zstd';

export type ArchiveMemberType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface ArchiveMember {
  /** The checked, normalised name: no leading `./` or `/`, no `.` or empty components, no trailing `/`. */
  path: string;
  type: ArchiveMemberType;
  /** Bytes of data (regular files only). */
  size: number;
  /** Target of a symlink (as written) or hard link (an archive path). */
  linkpath?: string;
  /**
   * The member's data. Read it (or not) before asking for the next member: whatever is left
   * unread is skipped then.
   */
  body: AsyncIterable<Buffer>;
}

export interface ReadArchiveOptions {
  signal?: AbortSignal;
}

/** Most bytes of member data held between the parser and a slow reader. */
const HIGH_WATER = 1024 * 1024;
const MAX_PATH_LENGTH = 4096;
const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

function badArchive(
  code: CodeOfKind<'invalid-argument'>,
  message: string,
  fields: Record<string, unknown> = {},
  cause?: unknown,
): BerthError {
  return invalidArgument(code, message, { fields, cause });
}

/**
 * The checked, normalised form of a member name. Throws invalid-argument `archive-unsafe-path`
 * for an absolute name, a `..` component, a NUL or a backslash, or a name over 4096 bytes.
 * `./` and `.` alone give the empty string (the archive's root).
 */
export function archivePath(raw: string): string {
  const refuse = (why: string) => badArchive('archive-unsafe-path', `archive member "${raw}": ${why}`, { member: raw });
  if (raw.length > MAX_PATH_LENGTH) throw refuse('name too long');
  if (raw.includes('\0')) throw refuse('NUL in the name');
  if (raw.includes('\\')) throw refuse('backslash in the name');
  if (raw.startsWith('/')) throw refuse('absolute name');
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw refuse('".." in the name');
  return parts.join('/');
}

/**
 * Where a link member points, as an archive path. A symlink's target is relative to the link's
 * directory; a hard link's is an archive path. Throws `archive-unsafe-path` for a target that is
 * absolute or climbs out of the archive.
 */
export function resolveLink(member: string, linkpath: string, kind: 'symlink' | 'hardlink'): string {
  const refuse = (why: string) =>
    badArchive('archive-unsafe-path', `archive member "${member}" links to "${linkpath}": ${why}`, { member, linkpath });
  if (linkpath === '') throw refuse('empty target');
  if (linkpath.includes('\0') || linkpath.includes('\\')) throw refuse('bad character in the target');
  if (linkpath.startsWith('/')) throw refuse('absolute target');
  if (kind === 'hardlink') {
    try {
      return archivePath(linkpath);
    } catch {
      throw refuse('target outside the archive');
    }
  }
  const out = path.posix.dirname(member) === '.' ? [] : path.posix.dirname(member).split('/');
  for (const part of linkpath.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw refuse('target outside the archive');
      out.pop();
    } else out.push(part);
  }
  return out.join('/');
}

/** Whether the file starts with gzip's or zstd's magic bytes. */
export async function detectCompression(file: string): Promise<ArchiveCompression> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    const starts = (magic: number[]) => bytesRead >= magic.length && magic.every((b, i) => head[i] === b);
    if (starts(GZIP_MAGIC)) return 'gzip';
    if (starts(ZSTD_MAGIC)) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

function memberType(entry: ReadEntry): ArchiveMemberType {
  switch (entry.type) {
    case 'File':
    case 'OldFile':
    case 'ContiguousFile':
      return 'file';
    case 'Directory':
    case 'GNUDumpDir':
      return 'dir';
    case 'SymbolicLink':
      return 'symlink';
    case 'Link':
      return 'hardlink';
    default:
      return 'other';
  }
}

interface PendingMember {
  member: ArchiveMember;
  chunks: Buffer[];
  ended: boolean;
  /** The reader moved on: drop whatever still arrives. */
  discarded: boolean;
}

/**
 * Reads the archive at `file` member by member (gzip and zstd are recognised by their magic).
 * Throws invalid-argument `archive-unsafe-path` for a bad name, `archive-bad-tar` for input that
 * is not a well-formed tar archive (or is truncated), and the signal's error when aborted.
 */
export async function* readArchive(file: string, options: ReadArchiveOptions = {}): AsyncGenerator<ArchiveMember> {
  const { signal } = options;
  signal?.throwIfAborted();
  const compression = await detectCompression(file);
  const input = createReadStream(file, { highWaterMark: 256 * 1024 });
  const source: Readable =
    compression === 'none' ? input : pipeline(input, compression === 'gzip' ? createGunzip() : createZstdDecompress(), () => {});

  const members: PendingMember[] = [];
  let current: PendingMember | undefined;
  let buffered = 0;
  let failure: BerthError | undefined;
  let parsed = false;
  let closed = false;

  // One promise that every state change resolves; both sides wait on it and then look again.
  let poke!: () => void;
  let changed = new Promise<void>((resolve) => (poke = resolve));
  const notify = () => {
    const wake = poke;
    changed = new Promise<void>((resolve) => (poke = resolve));
    wake();
  };
  const fail = (e: unknown) => {
    if (failure === undefined) {
      failure = isBerthError(e)
        ? e
        : badArchive('archive-bad-tar', `${file}: not a readable tar archive: ${e instanceof Error ? e.message : String(e)}`, { file }, e);
    }
    notify();
  };
  const onAbort = () => {
    if (signal !== undefined && failure === undefined) failure = abortError(signal);
    notify();
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  const parser = new Parser({ strict: true, zstd: false, maxMetaEntrySize: 1024 * 1024 });
  parser.on('error', fail);
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    // PAX and long-name records are not members; anything else the parser skips is still checked.
    if (entry.meta) return;
    try {
      archivePath(entry.path);
    } catch (e) {
      fail(e);
    }
  });
  parser.on('entry', (entry: ReadEntry) => {
    let name: string;
    try {
      name = archivePath(entry.path);
    } catch (e) {
      entry.resume();
      fail(e);
      return;
    }
    const type = memberType(entry);
    const pending: PendingMember = {
      member: {
        path: name,
        type,
        size: type === 'file' ? entry.size : 0,
        ...(type === 'symlink' || type === 'hardlink' ? { linkpath: entry.linkpath ?? '' } : {}),
        body: body(),
      },
      chunks: [],
      ended: false,
      discarded: false,
    };
    async function* body(): AsyncGenerator<Buffer> {
      for (;;) {
        const chunk = pending.chunks.shift();
        if (chunk !== undefined) {
          buffered -= chunk.length;
          notify();
          yield chunk;
          continue;
        }
        if (failure !== undefined) throw failure;
        if (pending.ended) return;
        await changed;
      }
    }
    entry.on('data', (chunk: Buffer) => {
      if (pending.discarded) return;
      pending.chunks.push(chunk);
      buffered += chunk.length;
      notify();
    });
    entry.on('end', () => {
      pending.ended = true;
      notify();
    });
    members.push(pending);
    notify();
  });
  parser.on('end', () => {
    parsed = true;
    notify();
  });

  const feed = async () => {
    try {
      for await (const chunk of source) {
        if (failure !== undefined || closed) return;
        parser.write(chunk as Buffer);
        while (buffered > HIGH_WATER && failure === undefined && !closed) await changed;
      }
      if (failure === undefined && !closed) parser.end();
    } catch (e) {
      fail(isBerthError(e) ? e : badArchive('archive-bad-tar', `${file}: ${(e as Error).message}`, { file }, e));
    }
  };
  const feeding = feed();

  const discard = (pending: PendingMember) => {
    pending.discarded = true;
    for (const c of pending.chunks) buffered -= c.length;
    pending.chunks = [];
    notify();
  };

  try {
    for (;;) {
      if (failure !== undefined) throw failure;
      const next = members.shift();
      if (next !== undefined) {
        current = next;
        yield next.member;
        discard(next);
        current = undefined;
        continue;
      }
      if (parsed) break;
      await changed;
    }
    await feeding;
    if (failure !== undefined) throw failure;
  } catch (e) {
    throw toBerthError(e);
  } finally {
    closed = true;
    if (current !== undefined) discard(current);
    signal?.removeEventListener('abort', onAbort);
    input.destroy();
    source.destroy();
    notify();
    await feeding.catch(() => {});
  }
}
