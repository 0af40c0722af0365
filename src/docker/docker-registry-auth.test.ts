import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { AuthConfigSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { registryAuthHeader } from './docker-registry-auth.ts';

const decode = (header: string) => JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, string>;

test('no credentials: no header', () => {
  assert.equal(registryAuthHeader(undefined), undefined);
  assert.equal(registryAuthHeader(create(AuthConfigSchema, {})), undefined);
});

test("Docker's AuthConfig fields, padded base64url", () => {
  const header = registryAuthHeader(
    create(AuthConfigSchema, { username: 'u', password: 'p?>', serverAddress: 'r.example', identityToken: 'i', registryToken: 't' }),
  )!;
  assert.match(header, /^[A-Za-z0-9_-]+=*$/);
  assert.equal(header.length % 4, 0, 'padded: the engine drops an unpadded header');
  assert.deepEqual(decode(header), { username: 'u', password: 'p?>', serveraddress: 'r.example', identitytoken: 'i', registrytoken: 't' });
});

test('`auth` alone is decoded into username and password, which is all the engine reads', () => {
  const auth = Buffer.from('alice:pa:ss').toString('base64');
  assert.deepEqual(decode(registryAuthHeader(create(AuthConfigSchema, { auth }))!), { auth, username: 'alice', password: 'pa:ss' });
});
