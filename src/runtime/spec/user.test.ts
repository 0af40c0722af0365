import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../../test/support/tmp.ts';
import { isBerthError } from '../../errors/errors.ts';
import { parseGroup, parsePasswd, resolveUser, resolveUserFromDatabase, userString } from './user.ts';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
broken line
+nis
`;
const GROUP = `root:x:0:
daemon:x:1:
wheel:x:10:root,app
audio:x:29:app
app:x:1000:app
nogroup:x:65534:
video:x:44: app , other
`;

async function rootfs(dir: string): Promise<string> {
  const root = join(dir, 'rootfs');
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc', 'passwd'), PASSWD);
  await writeFile(join(root, 'etc', 'group'), GROUP);
  return root;
}

test('parses passwd and group, skipping what is not an entry', () => {
  const p = parsePasswd(PASSWD);
  assert.deepEqual(
    p.map((e) => [e.name, e.uid, e.gid]),
    [
      ['root', 0, 0],
      ['daemon', 1, 1],
      ['nobody', 65534, 65534],
      ['app', 1000, 1000],
    ],
  );
  assert.equal(p[3]!.home, '/home/app');
  const g = parseGroup(GROUP);
  assert.deepEqual(g.find((x) => x.name === 'wheel')!.members, ['root', 'app']);
  assert.deepEqual(g.find((x) => x.name === 'video')!.members, ['app', 'other']);
});

test('the user string follows containerd: username or uid, then :gid, else the image user', () => {
  assert.equal(userString({}), '');
  assert.equal(userString({ imageUser: 'app:audio' }), 'app:audio');
  assert.equal(userString({ runAsUser: 5, imageUser: 'app' }), '5');
  assert.equal(userString({ runAsUser: 5, runAsUsername: 'app' }), 'app');
  assert.equal(userString({ runAsUser: 5, runAsGroup: 7 }), '5:7');
  assert.throws(
    () => userString({ runAsGroup: 7, imageUser: 'app' }),
    (e) => isBerthError(e, 'invalid-argument') && /run_as_group 7 is set without/.test(e.message),
  );
  assert.throws(
    () => userString({ runAsUser: -1 }),
    (e) => isBerthError(e, 'invalid-argument'),
  );
  assert.throws(
    () => userString({ runAsUser: 2 ** 31 }),
    (e) => isBerthError(e, 'invalid-argument'),
  );
});

test('resolves every form of user against the rootfs', async () => {
  await using dir = await makeTempDir();
  const root = await rootfs(dir.path);

  // Default: root, with root's supplementary groups from /etc/group.
  assert.deepEqual(await resolveUser(root, {}), { uid: 0, gid: 0, additionalGids: [0, 10], username: 'root', home: '/root' });
  // Image user by name: uid and gid from passwd, groups listing the user.
  const app = await resolveUser(root, { imageUser: 'app' });
  assert.deepEqual([app.uid, app.gid, app.additionalGids], [1000, 1000, [10, 29, 44, 1000]]);
  // By uid: same entry.
  assert.deepEqual((await resolveUser(root, { imageUser: '1000' })).additionalGids, [10, 29, 44, 1000]);
  // A uid the image does not know: gid 0, no groups from the files.
  assert.deepEqual(await resolveUser(root, { runAsUser: 4242 }), { uid: 4242, gid: 0, additionalGids: [0] });
  // name:group, uid:gid, name:gid, uid:group.
  assert.deepEqual(await resolveUser(root, { imageUser: 'app:audio', supplementalGroupsPolicy: 'strict' }), {
    uid: 1000,
    gid: 29,
    additionalGids: [29],
    username: 'app',
    home: '/home/app',
  });
  assert.deepEqual((await resolveUser(root, { imageUser: '1000:1234' })).gid, 1234);
  assert.deepEqual((await resolveUser(root, { imageUser: 'nobody:10' })).uid, 65534);
  assert.deepEqual((await resolveUser(root, { imageUser: '77:wheel' })).gid, 10);
  // run_as_user + run_as_group override the image user; CRI supplemental groups are merged and sorted.
  const r = await resolveUser(root, { runAsUser: 1000, runAsGroup: 2000, imageUser: 'nobody', supplementalGroups: [5678, 1234, 10] });
  assert.deepEqual([r.uid, r.gid, r.additionalGids], [1000, 2000, [10, 29, 44, 1234, 2000, 5678]]);
  // Strict: only the CRI groups and the primary one.
  const s = await resolveUser(root, { runAsUsername: 'app', supplementalGroups: [5678], supplementalGroupsPolicy: 'strict' });
  assert.deepEqual(s.additionalGids, [1000, 5678]);
});

test('a user or group missing from the image is an invalid-argument error', async () => {
  await using dir = await makeTempDir();
  const root = await rootfs(dir.path);
  await assert.rejects(
    resolveUser(root, { runAsUsername: 'ghost' }),
    (e) =>
      isBerthError(e, 'invalid-argument') &&
      e.code === 'user-not-found' &&
      /"ghost" not found in the image's \/etc\/passwd/.test(e.message),
  );
  await assert.rejects(
    resolveUser(root, { imageUser: 'app:ghosts' }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'group-not-found',
  );
  await assert.rejects(resolveUser(root, { imageUser: 'a:b:c' }), (e) => isBerthError(e, 'invalid-argument') && e.code === 'invalid-user');
  await assert.rejects(resolveUser(root, { imageUser: '1000:' }), (e) => isBerthError(e, 'invalid-argument'));
  await assert.rejects(
    resolveUser(root, { imageUser: '99999999999' }),
    (e) => isBerthError(e, 'invalid-argument') && /out of range/.test(e.message),
  );
});

test('an image without /etc/passwd runs numeric users only', async () => {
  await using dir = await makeTempDir();
  assert.deepEqual(await resolveUser(dir.path, { imageUser: '1000:1000' }), { uid: 1000, gid: 1000, additionalGids: [1000] });
  await assert.rejects(resolveUser(dir.path, { imageUser: 'app' }), (e) => isBerthError(e, 'invalid-argument'));
});

test('a symlinked /etc/passwd pointing out of the rootfs is not followed out', async () => {
  await using dir = await makeTempDir();
  const root = join(dir.path, 'rootfs');
  await mkdir(join(root, 'etc'), { recursive: true });
  // The host-side files the link would reach if it were followed on the host.
  const hostEtc = join(dir.path, 'host-etc');
  await mkdir(hostEtc);
  await writeFile(join(hostEtc, 'passwd'), 'evil:x:0:0::/:/bin/sh\n');
  await writeFile(join(hostEtc, 'group'), 'evil:x:0:evil\n');
  await symlink(join(hostEtc, 'passwd'), join(root, 'etc', 'passwd'));
  await symlink(`../../../../../../../..${hostEtc}/group`, join(root, 'etc', 'group'));
  await assert.rejects(
    resolveUser(root, { runAsUsername: 'evil' }),
    (e) => isBerthError(e, 'invalid-argument') && e.code === 'user-not-found',
  );

  // The same link resolved inside the rootfs finds the rootfs's own copy.
  await mkdir(join(root, hostEtc), { recursive: true });
  await writeFile(join(root, hostEtc, 'passwd'), 'inside:x:123:456::/:/bin/sh\n');
  assert.deepEqual(await resolveUser(root, { runAsUsername: 'inside' }), {
    uid: 123,
    gid: 456,
    additionalGids: [456],
    username: 'inside',
    home: '/',
  });
});

test('the pure resolver works on parsed databases', () => {
  const db = { passwd: parsePasswd(PASSWD), group: parseGroup(GROUP) };
  assert.equal(resolveUserFromDatabase(db, { runAsUsername: 'nobody' }).uid, 65534);
  assert.deepEqual(resolveUserFromDatabase({}, {}).additionalGids, [0]);
});
