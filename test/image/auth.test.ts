// PullImage from a registry behind htpasswd (basic) auth, with the CRI AuthConfig.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDaemon, type TestDaemon } from '../support/daemon.ts';
import { type PushResult, pushImage, tinyImage } from '../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';
import { assertNoLeftovers, expectCriError, setUpAndTearDown } from './support.ts';

const USER = 'alice';
const PASSWORD = 's3cret-Pa55';
const MIRRORED = 'private.example.test';

let registry: TestRegistry;
let daemon: TestDaemon;
let pushed: PushResult;
let ref: string;

setUpAndTearDown(
  async () => {
    registry = await startRegistry({ auth: { username: USER, password: PASSWORD } });
    pushed = await pushImage(registry, 'private/app:1', tinyImage({ files: { secret: 'behind auth\n' } }));
    ref = `${registry.host}/private/app:1`;
    daemon = await startDaemon({
      registries: { [registry.host]: { mirrors: [], insecure: true }, [MIRRORED]: { mirrors: [registry.url] } },
    });
  },
  async () => {
    const left = await daemon?.stop();
    await registry?.stop();
    assert.deepEqual(left ?? [], []);
  },
);

async function removeAll(): Promise<void> {
  for (const image of (await daemon.cri.image.listImages({})).images) await daemon.cri.image.removeImage({ image: { image: image.id } });
}

test('no credentials: UNAUTHENTICATED', async () => {
  const error = await expectCriError(daemon.cri.image.pullImage({ image: { image: ref } }), 'UNAUTHENTICATED');
  assert.match(error.message, /no credentials were given/);
  assert.match(error.message, /private\/app/);
  await assertNoLeftovers(daemon, ref);
});

test('wrong password and unknown user: UNAUTHENTICATED with a clear message', async () => {
  for (const auth of [
    { username: USER, password: 'wrong' },
    { username: 'mallory', password: PASSWORD },
    { auth: Buffer.from(`${USER}:nope`).toString('base64') },
  ]) {
    const error = await expectCriError(daemon.cri.image.pullImage({ image: { image: ref }, auth }), 'UNAUTHENTICATED');
    assert.match(error.message, /rejected the credentials/, error.message);
    assert.ok(!error.message.includes(PASSWORD), 'the message does not repeat a password');
    assert.ok(!error.message.includes('wrong'), 'the message does not repeat a password');
  }
  await assertNoLeftovers(daemon, ref);
});

test('username and password: pulled', async () => {
  const res = await daemon.cri.image.pullImage({ image: { image: ref }, auth: { username: USER, password: PASSWORD } });
  assert.equal(res.imageRef, pushed.configDigest);
  const status = await daemon.cri.image.imageStatus({ image: { image: ref } });
  assert.deepEqual(status.image?.repoTags, [ref]);
  // The daemon keeps no credentials for later pulls that bring none.
  const other = await pushImage(registry, 'private/app:2', tinyImage({ files: { secret: 'another tag\n' } }));
  await expectCriError(daemon.cri.image.pullImage({ image: { image: other.reference } }), 'UNAUTHENTICATED');
  await expectCriError(
    daemon.cri.image.pullImage({ image: { image: other.reference }, auth: { username: USER, password: 'wrong' } }),
    'UNAUTHENTICATED',
  );
  await removeAll();
});

test('`auth` (base64 user:password): pulled', async () => {
  const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
  const res = await daemon.cri.image.pullImage({ image: { image: ref }, auth: { auth } });
  assert.equal(res.imageRef, pushed.configDigest);
  await removeAll();
});

test('credentials through a mirror of another host', async () => {
  const mirrored = `${MIRRORED}/private/app:1`;
  await expectCriError(daemon.cri.image.pullImage({ image: { image: mirrored } }), 'UNAUTHENTICATED');
  const res = await daemon.cri.image.pullImage({ image: { image: mirrored }, auth: { username: USER, password: PASSWORD } });
  assert.equal(res.imageRef, pushed.configDigest);
  await removeAll();
  await assertNoLeftovers(daemon);
});

test('the same credentials are not shared with a pull that has none', async () => {
  // One pull with and one without credentials at the same time: only the first may succeed.
  const [withAuth, without] = await Promise.allSettled([
    daemon.cri.image.pullImage({ image: { image: ref }, auth: { username: USER, password: PASSWORD } }),
    daemon.cri.image.pullImage({ image: { image: ref } }),
  ]);
  assert.equal(withAuth.status, 'fulfilled');
  assert.equal(without.status, 'rejected');
  await removeAll();
});
