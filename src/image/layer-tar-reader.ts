// A streaming reader of the tar archives that image layers are (ustar, PAX, GNU long names).
// Written here rather than taken from node-tar: node-tar's PAX parser keeps only a fixed set of
// keywords (no SCHILY.xattr.*) and decodes values as UTF-8 cut at the first NUL, which would
// corrupt binary xattrs such as security.capability. Names come out exactly as stored; checking
// them is the caller's job (see layer-path.ts).

import { invalidArgument } from '../errors/errors.ts';
import { nextOrAbort } from '../util/abortable.ts';
import { DEFAULT_LAYER_LIMITS, entryMetadataTooLarge } from './layer-limits.ts';

const BLOCK = 512;

export type TarEntryKind = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

export interface TarEntry {
  kind: TarEntryKind;
  /** The name as stored (PAX `path`, GNU long name, or ustar prefix/name). */
  name: string;
  /** Target of a symlink or hard link. */
  linkname: string;
  /** Permission bits with setuid, setgid, sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of data that follow (0 for every kind but 'file'). */
  size: number;
  /** Seconds since the epoch, fractional when PAX says so. */
  mtime: number;
  atime?: number;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.NAME` records; values are raw bytes. */
  xattrs: Map<string, Buffer>;
}

function badTar(message: string, fields: Record<string, unknown> = {}) {
  return invalidArgument('layer-bad-tar', `layer tar: ${message}`, { fields });
}

function cString(block: Buffer, offset: number, width: number): Buffer {
  const field = block.subarray(offset, offset + width);
  const nul = field.indexOf(0);
  return nul < 0 ? field : field.subarray(0, nul);
}

function parseNumeric(block: Buffer, offset: number, width: number, what: string): number {
  const field = block.subarray(offset, offset + width);
  if (field[0]! & 0x80) {
    // GNU base-256: big-endian two's complement, the top bit of the first byte a marker.
    const negative = field[0] === 0xff;
    let value = 0n;
    for (let i = 0; i < field.length; i++) {
      const byte = i === 0 ? field[i]! & 0x7f : field[i]!;
      value = (value << 8n) | BigInt(negative ? ~byte & 0xff : byte);
    }
    if (negative) value = -(value + 1n);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw badTar(`${what} out of range`);
    }
    return Number(value);
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .replace(/^[ ]+/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw badTar(`${what} is not an octal number: ${JSON.stringify(text)}`);
  return Number.parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  const stored = parseNumeric(block, 148, 8, 'checksum');
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

interface PaxOverrides {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  atime?: number;
  xattrs: Map<string, Buffer>;
}

function parsePaxNumber(key: string, value: string, integer: boolean): number {
  const re = integer ? /^[0-9]+$/ : /^-?[0-9]+(\.[0-9]+)?$/;
  if (!re.test(value)) throw badTar(`PAX ${key} is not a number: ${JSON.stringify(value)}`);
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) throw badTar(`PAX ${key} out of range`);
  return n;
}

/** PAX records are "LEN key=value\n" with LEN counting the whole record: values are binary-safe. */
function parsePax(body: Buffer, into: PaxOverrides): void {
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // NUL padding after the last record
    const space = body.indexOf(0x20, pos);
    if (space < 0 || space - pos > 20) throw badTar('malformed PAX record');
    const lenText = body.toString('latin1', pos, space);
    if (!/^[0-9]+$/.test(lenText)) throw badTar('malformed PAX record length');
    const len = Number(lenText);
    const end = pos + len;
    if (len <= space - pos + 1 || end > body.length || body[end - 1] !== 0x0a) throw badTar('malformed PAX record');
    const record = body.subarray(space + 1, end - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) throw badTar('PAX record without "="');
    const key = record.toString('utf8', 0, eq);
    const raw = record.subarray(eq + 1);
    const value = raw.toString('utf8');
    pos = end;
    if (key.startsWith('SCHILY.xattr.')) {
      into.xattrs.set(key.slice('SCHILY.xattr.'.length), Buffer.from(raw));
      continue;
    }
    if (key.startsWith('GNU.sparse.')) {
      throw invalidArgument('layer-unsupported-entry', 'layer tar: GNU sparse files are not supported', { fields: { key } });
    }
    if (value === '') continue; // an empty value removes a keyword: nothing set here to remove
    switch (key) {
      case 'path':
        into.path = value;
        break;
      case 'linkpath':
        into.linkpath = value;
        break;
      case 'size':
        into.size = parsePaxNumber(key, value, true);
        break;
      case 'uid':
        into.uid = parsePaxNumber(key, value, true);
        break;
      case 'gid':
        into.gid = parsePaxNumber(key, value, true);
        break;
      case 'mtime':
        into.mtime = parsePaxNumber(key, value, false);
        break;
      case 'atime':
        into.atime = parsePaxNumber(key, value, false);
        break;
      default:
        break; // uname, gname, ctime, comment, charset, vendor keywords: not needed to unpack
    }
  }
}

const KINDS: Record<string, TarEntryKind> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

/**
 * Reads entries one by one. After `next()` returns a 'file' entry, its data can be read with
 * `data()`; whatever is not read is skipped by the following `next()`. Bytes are pulled from the
 * source only as needed; `drain()` reads the rest (after the end-of-archive blocks) so that a
 * digest computed over the source covers all of it.
 */
export class TarReader {
  readonly #it: AsyncIterator<Uint8Array>;
  readonly #signal: AbortSignal | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #eof = false;
  #remaining = 0; // data bytes of the current entry not yet read
  #padding = 0; // then this many bytes to the next block boundary
  #ended = false;
  /** PAX and GNU long-name bodies of one entry, in total: many headers add up. */
  readonly #maxEntryMetadata: number;

  constructor(source: AsyncIterable<Uint8Array>, signal?: AbortSignal, maxEntryMetadataBytes = DEFAULT_LAYER_LIMITS.maxEntryMetadataBytes) {
    this.#it = source[Symbol.asyncIterator]();
    this.#signal = signal;
    this.#maxEntryMetadata = maxEntryMetadataBytes;
  }

  async #pull(): Promise<boolean> {
    if (this.#eof) return false;
    const r = await nextOrAbort(this.#it, this.#signal);
    if (r.done) {
      this.#eof = true;
      return false;
    }
    const chunk = Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    return true;
  }

  /** Exactly n bytes, or fewer at the end of the source. */
  async #read(n: number): Promise<Buffer> {
    while (this.#buf.length < n && (await this.#pull()));
    const out = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  /** Yields exactly n bytes in chunks; a source that ends early is a truncated archive. */
  async *#take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.#buf.length === 0 && !(await this.#pull())) throw badTar('truncated archive');
      const out = this.#buf.subarray(0, Math.min(left, this.#buf.length));
      this.#buf = this.#buf.subarray(out.length);
      left -= out.length;
      yield out;
    }
  }

  async #skip(n: number): Promise<void> {
    for await (const _ of this.#take(n));
  }

  async #readBody(size: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of this.#take(size)) parts.push(c);
    await this.#skip((BLOCK - (size % BLOCK)) % BLOCK);
    return Buffer.concat(parts);
  }

  /** The data of the current 'file' entry. */
  async *data(): AsyncGenerator<Buffer> {
    while (this.#remaining > 0) {
      for await (const c of this.#take(this.#remaining)) {
        this.#remaining -= c.length;
        yield c;
      }
    }
  }

  async next(): Promise<TarEntry | undefined> {
    if (this.#ended) return undefined;
    await this.#skip(this.#remaining + this.#padding);
    this.#remaining = 0;
    this.#padding = 0;
    const pax: PaxOverrides = { xattrs: new Map() };
    let longName: string | undefined;
    let longLink: string | undefined;
    let metadata = 0;
    for (;;) {
      const block = await this.#read(BLOCK);
      if (block.length === 0) {
        // No end-of-archive blocks: Go's archive/tar accepts that, and so do we.
        this.#ended = true;
        return undefined;
      }
      if (block.length < BLOCK) throw badTar('truncated header');
      if (isZeroBlock(block)) {
        const second = await this.#read(BLOCK);
        if (second.length === 0 || isZeroBlock(second)) {
          this.#ended = true;
          return undefined;
        }
        throw badTar('a zero block in the middle of the archive');
      }
      if (!checksumOk(block)) throw badTar('header checksum mismatch');
      const type = String.fromCharCode(block[156]!);
      const size = parseNumeric(block, 124, 12, 'size');
      if (size < 0) throw badTar('negative size');
      if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
        // Refused before reading, so that the body never reaches memory.
        metadata += size;
        if (metadata > this.#maxEntryMetadata) throw entryMetadataTooLarge(this.#maxEntryMetadata, pax.path ?? longName);
      }
      if (type === 'x' || type === 'g') {
        const body = await this.#readBody(size);
        // Global headers ('g') are read and ignored, as Docker and containerd do.
        if (type === 'x') parsePax(body, pax);
        continue;
      }
      if (type === 'L' || type === 'K') {
        const body = await this.#readBody(size);
        const nul = body.indexOf(0);
        const text = (nul < 0 ? body : body.subarray(0, nul)).toString('utf8');
        if (type === 'L') longName = text;
        else longLink = text;
        continue;
      }
      const magic = block.toString('latin1', 257, 263);
      const ustar = magic === 'ustar\0';
      const gnu = magic === 'ustar ';
      let name = cString(block, 0, 100).toString('utf8');
      if (ustar) {
        const prefix = cString(block, 345, 155).toString('utf8');
        if (prefix !== '') name = `${prefix}/${name}`;
      }
      name = pax.path ?? longName ?? name;
      let kind = KINDS[type];
      if (kind === 'file' && type === '\0' && name.endsWith('/')) kind = 'dir'; // pre-POSIX directories
      if (kind === undefined) {
        throw invalidArgument('layer-unsupported-entry', `layer tar: unsupported entry type ${JSON.stringify(type)} for ${name}`, {
          fields: { name, type },
        });
      }
      const entry: TarEntry = {
        kind,
        name,
        linkname: pax.linkpath ?? longLink ?? cString(block, 157, 100).toString('utf8'),
        mode: parseNumeric(block, 100, 8, 'mode') & 0o7777,
        uid: pax.uid ?? parseNumeric(block, 108, 8, 'uid'),
        gid: pax.gid ?? parseNumeric(block, 116, 8, 'gid'),
        size: 0,
        mtime: pax.mtime ?? parseNumeric(block, 136, 12, 'mtime'),
        devmajor: ustar || gnu ? parseNumeric(block, 329, 8, 'devmajor') : 0,
        devminor: ustar || gnu ? parseNumeric(block, 337, 8, 'devminor') : 0,
        xattrs: pax.xattrs,
      };
      if (pax.atime !== undefined) entry.atime = pax.atime;
      else if (gnu) {
        const atime = parseNumeric(block, 345, 12, 'atime');
        if (atime !== 0) entry.atime = atime;
      }
      // As Go's archive/tar: only regular files carry data; other kinds ignore their size field.
      const dataSize = kind === 'file' ? (pax.size ?? size) : 0;
      if (entry.uid < 0 || entry.gid < 0) throw badTar(`negative owner for ${name}`);
      entry.size = dataSize;
      this.#remaining = dataSize;
      this.#padding = (BLOCK - (dataSize % BLOCK)) % BLOCK;
      return entry;
    }
  }

  /** Reads whatever follows the archive's end, to the end of the source. */
  async drain(): Promise<void> {
    this.#buf = Buffer.alloc(0);
    while (await this.#pull()) this.#buf = Buffer.alloc(0);
  }

  /** Stops reading: releases the source. */
  close(): void {
    try {
      const r = this.#it.return?.();
      if (r !== undefined) Promise.resolve(r).catch(() => {});
    } catch {
      // nothing to release
    }
  }
}
