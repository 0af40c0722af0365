// A small ustar/PAX tar writer for test layers. It writes every name and link
// target exactly as given ("../evil", "/abs", links pointing out of the root):
// real packers sanitise those, and tests of the unpacker need them.
//
//   const tar = writeTar([
//     { type: 'dir', name: 'etc/' },
//     { type: 'file', name: 'etc/hostname', content: 'box\n', mode: 0o644 },
//     { type: 'symlink', name: 'escape', linkname: '../../..' },
//     { type: 'file', name: 'etc/cap', content: 'x', xattrs: { 'user.berth': 'yes' } },
//   ]);

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface TarEntry {
  type: TarEntryType;
  /** Path inside the archive, written as given (no normalisation, no trailing slash added). */
  name: string;
  /** Body of a 'file' entry. Ignored for other types. */
  content?: string | Uint8Array;
  /** Permission bits (and setuid/setgid/sticky). Default 0o644, dirs 0o755, symlinks 0o777. */
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  /** Seconds since the epoch (fractions go to a PAX record) or a Date. Default 0. */
  mtime?: number | Date;
  /** Target of a symlink or hardlink. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** Extended attributes, written as PAX `SCHILY.xattr.NAME` records. */
  xattrs?: Record<string, string | Uint8Array>;
  /** Extra PAX records for this entry, written as given. */
  pax?: Record<string, string | Uint8Array>;
  /** Raw type flag, overriding the one `type` implies (e.g. '7', 'g', 'L'). */
  typeflag?: string;
}

export interface WriteTarOptions {
  /** Write the two zero blocks that end an archive. Default true. */
  end?: boolean;
  /** Put every name into a PAX `path` record, even short ones. Default false. */
  forcePax?: boolean;
}

const BLOCK = 512;

const TYPEFLAGS: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  char: '3',
  block: '4',
  dir: '5',
  fifo: '6',
};

function defaultMode(type: TarEntryType): number {
  if (type === 'dir') return 0o755;
  if (type === 'symlink') return 0o777;
  return 0o644;
}

function toBytes(value: string | Uint8Array): Buffer {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
}

function isAscii(value: string): boolean {
  return /^[\x00-\x7f]*$/.test(value);
}

/** Largest value an octal field of `width` bytes holds (width-1 digits and a NUL). */
function octalMax(width: number): number {
  return 8 ** (width - 1) - 1;
}

function writeOctal(block: Buffer, offset: number, width: number, value: number): void {
  const digits = Math.floor(value)
    .toString(8)
    .padStart(width - 1, '0');
  block.write(digits, offset, width - 1, 'ascii');
  block[offset + width - 1] = 0;
}

function writeString(block: Buffer, offset: number, width: number, value: Buffer): void {
  value.copy(block, offset, 0, Math.min(value.length, width));
}

/** One PAX record: "LEN key=value\n" where LEN counts the whole record. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`, 'utf8'), value, Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length = String(length).length + body.length;
  return Buffer.concat([Buffer.from(String(length), 'ascii'), body]);
}

function padding(size: number): Buffer {
  const rest = size % BLOCK;
  return rest === 0 ? Buffer.alloc(0) : Buffer.alloc(BLOCK - rest);
}

interface HeaderFields {
  name: Buffer;
  prefix: Buffer;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  typeflag: string;
  linkname: Buffer;
  uname: Buffer;
  gname: Buffer;
  devmajor: number;
  devminor: number;
}

function header(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(BLOCK);
  writeString(block, 0, 100, fields.name);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, fields.uid);
  writeOctal(block, 116, 8, fields.gid);
  writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtime);
  block.fill(0x20, 148, 156); // checksum counts as spaces while summing
  block.write(fields.typeflag, 156, 1, 'latin1');
  writeString(block, 157, 100, fields.linkname);
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  writeString(block, 265, 32, fields.uname);
  writeString(block, 297, 32, fields.gname);
  writeOctal(block, 329, 8, fields.devmajor);
  writeOctal(block, 337, 8, fields.devminor);
  writeString(block, 345, 155, fields.prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return block;
}

/** Splits a long name into ustar prefix/name at a slash, when it fits. */
function splitUstarName(name: Buffer): { prefix: Buffer; name: Buffer } | undefined {
  if (name.length <= 100) return { prefix: Buffer.alloc(0), name };
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== 0x2f) continue;
    const prefix = name.subarray(0, i);
    const rest = name.subarray(i + 1);
    if (prefix.length > 155 || rest.length === 0) continue;
    if (rest.length <= 100) return { prefix, name: rest };
    return undefined; // the rest only grows with shorter prefixes
  }
  return undefined;
}

function mtimeSeconds(mtime: number | Date | undefined): number {
  if (mtime === undefined) return 0;
  return mtime instanceof Date ? mtime.getTime() / 1000 : mtime;
}

/** Serialises one entry (with its PAX header when needed) into 512-byte blocks. */
export function tarEntryBlocks(entry: TarEntry, options: Pick<WriteTarOptions, 'forcePax'> = {}): Buffer {
  const body = entry.type === 'file' && entry.content !== undefined ? toBytes(entry.content) : Buffer.alloc(0);
  const nameBytes = Buffer.from(entry.name, 'utf8');
  const linkBytes = Buffer.from(entry.linkname ?? '', 'utf8');
  const records: Buffer[] = [];

  let ustarName: { prefix: Buffer; name: Buffer };
  const split = options.forcePax || !isAscii(entry.name) ? undefined : splitUstarName(nameBytes);
  if (split === undefined) {
    records.push(paxRecord('path', nameBytes));
    ustarName = { prefix: Buffer.alloc(0), name: nameBytes.subarray(0, 100) };
  } else {
    ustarName = split;
  }
  if (linkBytes.length > 100 || !isAscii(entry.linkname ?? '')) records.push(paxRecord('linkpath', linkBytes));

  const numeric = (key: string, value: number, width: number): number => {
    if (Number.isInteger(value) && value >= 0 && value <= octalMax(width)) return value;
    records.push(paxRecord(key, Buffer.from(String(value), 'ascii')));
    return 0;
  };
  const uid = numeric('uid', entry.uid ?? 0, 8);
  const gid = numeric('gid', entry.gid ?? 0, 8);
  const size = numeric('size', body.length, 12);
  const seconds = mtimeSeconds(entry.mtime);
  const mtime = numeric('mtime', seconds, 12);
  const uname = Buffer.from(entry.uname ?? '', 'utf8');
  const gname = Buffer.from(entry.gname ?? '', 'utf8');
  if (uname.length > 32) records.push(paxRecord('uname', uname));
  if (gname.length > 32) records.push(paxRecord('gname', gname));
  for (const [key, value] of Object.entries(entry.xattrs ?? {})) {
    records.push(paxRecord(`SCHILY.xattr.${key}`, toBytes(value)));
  }
  for (const [key, value] of Object.entries(entry.pax ?? {})) records.push(paxRecord(key, toBytes(value)));

  const parts: Buffer[] = [];
  if (records.length > 0) {
    const paxBody = Buffer.concat(records);
    const base = entry.name.replace(/\/+$/, '').split('/').pop() ?? '';
    parts.push(
      header({
        name: Buffer.from(`PaxHeaders/${base}`.slice(0, 100), 'utf8').subarray(0, 100),
        prefix: Buffer.alloc(0),
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: paxBody.length,
        mtime: 0,
        typeflag: 'x',
        linkname: Buffer.alloc(0),
        uname: Buffer.alloc(0),
        gname: Buffer.alloc(0),
        devmajor: 0,
        devminor: 0,
      }),
      paxBody,
      padding(paxBody.length),
    );
  }
  parts.push(
    header({
      name: ustarName.name,
      prefix: ustarName.prefix,
      mode: entry.mode ?? defaultMode(entry.type),
      uid,
      gid,
      size,
      mtime,
      typeflag: entry.typeflag ?? TYPEFLAGS[entry.type],
      linkname: linkBytes.subarray(0, 100),
      uname: uname.subarray(0, 32),
      gname: gname.subarray(0, 32),
      devmajor: entry.devmajor ?? 0,
      devminor: entry.devminor ?? 0,
    }),
    body,
    padding(body.length),
  );
  return Buffer.concat(parts);
}

/** Serialises entries, in order, into an uncompressed tar archive. */
export function writeTar(entries: readonly TarEntry[], options: WriteTarOptions = {}): Buffer {
  const parts = entries.map((entry) => tarEntryBlocks(entry, options));
  if (options.end ?? true) parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
