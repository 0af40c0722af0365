// Which uid, gid and supplementary groups a container's process gets: the CRI run_as_* fields or the
// image's User, looked up in the image's own /etc/passwd and /etc/group, the way containerd does it.

import { invalidArgument } from '../../errors/errors.ts';
import { readRootfsFile } from './rootfs-path.ts';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** runc, like the kernel, takes ids up to 2^31-1. */
const MAX_ID = 0x7fffffff;

const parseId = (s: string | undefined): number | undefined => {
  if (s === undefined || !/^\d+$/.test(s)) return undefined;
  const n = Number(s);
  return n <= MAX_ID ? n : undefined;
};

/** The entries of an /etc/passwd text; malformed lines, comments and NIS lines are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#') || l.startsWith('+') || l.startsWith('-')) continue;
    const f = l.split(':');
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    if (f[0] === undefined || f[0] === '' || uid === undefined || gid === undefined) continue;
    out.push({ name: f[0], uid, gid, home: f[5] ?? '', shell: f[6] ?? '' });
  }
  return out;
}

/** The entries of an /etc/group text; malformed lines, comments and NIS lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const l = line.trim();
    if (l === '' || l.startsWith('#') || l.startsWith('+') || l.startsWith('-')) continue;
    const f = l.split(':');
    const gid = parseId(f[2]);
    if (f[0] === undefined || f[0] === '' || gid === undefined) continue;
    const members = (f[3] ?? '')
      .split(',')
      .map((m) => m.trim())
      .filter((m) => m !== '');
    out.push({ name: f[0], gid, members });
  }
  return out;
}

export interface UserRequest {
  runAsUser?: number;
  runAsGroup?: number;
  runAsUsername?: string;
  /** The image configuration's User: "name", "uid", "name:group", "uid:gid" (or mixed). */
  imageUser?: string;
  supplementalGroups?: readonly number[];
  supplementalGroupsPolicy?: 'merge' | 'strict';
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Sorted, without duplicates, the primary gid included (as containerd does). */
  additionalGids: number[];
  /** The user's name when /etc/passwd knows it. */
  username?: string;
  home?: string;
}

/** The image's view of the user and group databases; undefined when the file is absent. */
export interface UserDatabase {
  passwd?: PasswdEntry[];
  group?: GroupEntry[];
}

const checkId = (n: number, what: string): number => {
  if (!Number.isInteger(n) || n < 0 || n > MAX_ID) {
    throw invalidArgument('invalid-user', `${what} ${n} is out of range (0 to ${MAX_ID})`, { fields: { [what]: n } });
  }
  return n;
};

/**
 * The user string that the request stands for: run_as_username or run_as_user, with ":<gid>" when
 * run_as_group is set; else the image's User; "" for the default (root). run_as_group without a user
 * is an error, as in containerd and CRI-O.
 */
export function userString(req: UserRequest): string {
  let user = '';
  if (req.runAsUser !== undefined) user = String(checkId(req.runAsUser, 'run_as_user'));
  if (req.runAsUsername !== undefined && req.runAsUsername !== '') user = req.runAsUsername;
  if (req.runAsGroup !== undefined) {
    const group = String(checkId(req.runAsGroup, 'run_as_group'));
    if (user === '') {
      throw invalidArgument('invalid-user', `run_as_group ${group} is set without run_as_user or run_as_username`, {
        fields: { runAsGroup: req.runAsGroup },
      });
    }
    return `${user}:${group}`;
  }
  if (user !== '') return user;
  return req.imageUser ?? '';
}

const numeric = (part: string, what: string, whole: string): number | undefined => {
  if (!/^[+-]?\d+$/.test(part)) return undefined;
  const n = Number(part);
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_ID) {
    throw invalidArgument('invalid-user', `invalid user ${JSON.stringify(whole)}: ${what} out of range`, { fields: { user: whole } });
  }
  return n;
};

const notInImage = (kind: 'user' | 'group', name: string, file: string): Error =>
  invalidArgument(`${kind}-not-found`, `${kind} ${JSON.stringify(name)} not found in the image's ${file}`, { fields: { [kind]: name } });

/**
 * Resolves a request against the image's user database (pure; see resolveUser for the rootfs).
 * A numeric uid needs no entry (gid 0 when there is none); a name must exist.
 */
export function resolveUserFromDatabase(db: UserDatabase, req: UserRequest): ResolvedUser {
  const passwd = db.passwd ?? [];
  const groups = db.group ?? [];
  const str = userString(req);
  const parts = str === '' ? ['0'] : str.split(':');
  if (parts.length > 2 || parts.some((p) => p === '')) {
    throw invalidArgument('invalid-user', `invalid user ${JSON.stringify(str)}: want user, uid, user:group or uid:gid`, {
      fields: { user: str },
    });
  }
  const [userPart, groupPart] = parts as [string, string | undefined];
  let uid: number;
  let gid = 0;
  let entry: PasswdEntry | undefined;
  const uidNum = numeric(userPart, 'uid', str);
  if (uidNum !== undefined) {
    uid = uidNum;
    entry = passwd.find((p) => p.uid === uid);
    if (entry !== undefined && groupPart === undefined) gid = entry.gid;
  } else {
    entry = passwd.find((p) => p.name === userPart);
    if (entry === undefined) throw notInImage('user', userPart, '/etc/passwd');
    uid = entry.uid;
    if (groupPart === undefined) gid = entry.gid;
  }
  if (groupPart !== undefined) {
    const gidNum = numeric(groupPart, 'gid', str);
    if (gidNum !== undefined) gid = gidNum;
    else {
      const g = groups.find((x) => x.name === groupPart);
      if (g === undefined) throw notInImage('group', groupPart, '/etc/group');
      gid = g.gid;
    }
  }

  const gids = new Set<number>([gid]);
  if ((req.supplementalGroupsPolicy ?? 'merge') === 'merge') {
    // The groups that list the user as a member; the name comes from the CRI user or the image user.
    const who = req.runAsUsername || (req.runAsUser !== undefined ? String(req.runAsUser) : (req.imageUser ?? '').split(':')[0]) || '0';
    const name = /^\d+$/.test(who) ? passwd.find((p) => p.uid === Number(who))?.name : who;
    if (name !== undefined) {
      for (const g of groups) if (g.name !== name && g.members.includes(name)) gids.add(g.gid);
    }
  }
  for (const g of req.supplementalGroups ?? []) gids.add(checkId(g, 'supplemental_group'));

  const out: ResolvedUser = { uid, gid, additionalGids: [...gids].sort((a, b) => a - b) };
  if (entry !== undefined) {
    out.username = entry.name;
    out.home = entry.home;
  }
  return out;
}

/** Reads the rootfs's /etc/passwd and /etc/group (symlinks resolved inside the rootfs). */
export async function readUserDatabase(rootfs: string): Promise<UserDatabase> {
  const [passwd, group] = await Promise.all([readRootfsFile(rootfs, '/etc/passwd'), readRootfsFile(rootfs, '/etc/group')]);
  const db: UserDatabase = {};
  if (passwd !== undefined) db.passwd = parsePasswd(passwd);
  if (group !== undefined) db.group = parseGroup(group);
  return db;
}

/** Resolves the container's user against the files of its root filesystem. */
export async function resolveUser(rootfs: string, req: UserRequest): Promise<ResolvedUser> {
  return resolveUserFromDatabase(await readUserDatabase(rootfs), req);
}
