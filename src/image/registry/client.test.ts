// Protocol tests of the registry client against small in-process HTTP servers.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import type { ErrorKind } from '../../errors/errors.ts';
import { isBerthError } from '../../errors/errors.ts';
import type { Digest } from '../../oci/digest.ts';
import { sha256Digest } from '../../oci/digest.ts';
import { MediaType } from '../../oci/image-spec.ts';
import { parseReference } from '../../oci/reference.ts';
import type { RegistryClientOptions } from './client.ts';
import { RegistryClient } from './client.ts';
import { resolveHosts } from './hosts.ts';
import { verifyStream } from './verify.ts';

// ---------------------------------------------------------------------------------------------
// Servers

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

interface Served {
  origin: string;
  host: string;
  requests: Seen[];
  handler: Handler;
  close(): Promise<void>;
}

const servers: Served[] = [];
const clients: RegistryClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(handler: Handler): Promise<Served> {
  const served: Served = {
    origin: '',
    host: '',
    requests: [],
    handler,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const body = Buffer.concat(parts).toString('utf8');
      served.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      Promise.resolve(served.handler(req, res, body)).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  served.origin = `http://127.0.0.1:${port}`;
  served.host = `127.0.0.1:${port}`;
  servers.push(served);
  return served;
}

/** A port with nothing listening. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// ---------------------------------------------------------------------------------------------
// Registry content

interface Image {
  manifest: Buffer;
  manifestDigest: Digest;
  config: Buffer;
  configDigest: Digest;
  layer: Buffer;
  layerDigest: Digest;
}

function makeImage(seed: string): Image {
  const layer = Buffer.from(`layer bytes of ${seed} `.repeat(1000));
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(layer)] } }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: MediaType.ociLayer, digest: sha256Digest(layer), size: layer.length }],
    }),
  );
  return {
    manifest,
    manifestDigest: sha256Digest(manifest),
    config,
    configDigest: sha256Digest(config),
    layer,
    layerDigest: sha256Digest(layer),
  };
}

interface Store {
  /** `repo:tag` or `repo@digest` → body, media type */
  manifests: Map<string, { body: Buffer; mediaType: string; digestHeader?: string }>;
  blobs: Map<string, Buffer>;
}

function store(repo: string, tag: string, image: Image): Store {
  const s: Store = { manifests: new Map(), blobs: new Map() };
  addImage(s, repo, tag, image);
  return s;
}
function addImage(s: Store, repo: string, tag: string, image: Image): void {
  const entry = { body: image.manifest, mediaType: MediaType.ociManifest };
  s.manifests.set(`${repo}:${tag}`, entry);
  s.manifests.set(`${repo}@${image.manifestDigest}`, entry);
  s.blobs.set(image.configDigest, image.config);
  s.blobs.set(image.layerDigest, image.layer);
}

function registry(s: Store, guard?: (req: IncomingMessage, res: ServerResponse) => boolean): Handler {
  return (req, res) => {
    if (guard !== undefined && !guard(req, res)) return;
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(path);
    if (m === null) {
      res.writeHead(404).end();
      return;
    }
    const [, repo, kind, object] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const key = object.includes(':') ? `${repo}@${object}` : `${repo}:${object}`;
      const entry = s.manifests.get(key);
      if (entry === undefined) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
        return;
      }
      res.writeHead(200, {
        'content-type': entry.mediaType,
        'docker-content-digest': entry.digestHeader ?? sha256Digest(entry.body),
        'content-length': entry.body.length,
      });
      res.end(req.method === 'HEAD' ? undefined : entry.body);
      return;
    }
    const blob = s.blobs.get(object);
    if (blob === undefined) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'BLOB_UNKNOWN', message: 'blob unknown to registry' }] }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
    res.end(blob);
  };
}

function client(options: RegistryClientOptions = {}): RegistryClient {
  const c = new RegistryClient(options);
  clients.push(c);
  return c;
}

function insecure(...hosts: string[]): RegistryClientOptions['registries'] {
  return Object.fromEntries(hosts.map((h) => [h, { insecure: true }]));
}

function isError(kind: ErrorKind, code?: string) {
  return (e: unknown) => {
    assert.ok(isBerthError(e, kind), `expected ${kind}/${code}, got ${String(e)} ${isBerthError(e) ? e.code : ''}`);
    if (code !== undefined) assert.equal(e.code, code, e.message);
    return true;
  };
}

async function readAll(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

const basicOf = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

// ---------------------------------------------------------------------------------------------

describe('resolve and fetch without authentication', () => {
  test('resolves a tag, fetches the manifest and the blobs', async () => {
    const img = makeImage('plain');
    const reg = await serve(registry(store('library/busybox', 'latest', img)));
    const c = client({ registries: insecure(reg.host) });
    const r = await c.resolve(`${reg.host}/library/busybox`);
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.equal(r.descriptor.mediaType, MediaType.ociManifest);
    assert.equal(r.descriptor.size, img.manifest.length);
    assert.deepEqual(r.bytes, img.manifest);
    assert.equal(r.endpoint.apiRoot, `${reg.origin}/v2`);
    const accept = String(reg.requests[0]!.headers.accept);
    for (const mt of [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest]) {
      assert.ok(accept.includes(mt), accept);
    }
    assert.equal(reg.requests[0]!.url, '/v2/library/busybox/manifests/latest');

    const m = await c.fetchManifest(r.endpoint, 'library/busybox', r.descriptor);
    assert.deepEqual(m.bytes, img.manifest);
    const blob = await c.fetchBlob(r.endpoint, 'library/busybox', { digest: img.layerDigest, size: img.layer.length });
    assert.equal(blob.contentLength, img.layer.length);
    const bytes = await readAll(verifyStream(blob, { digest: img.layerDigest, size: img.layer.length }));
    assert.deepEqual(bytes, img.layer);
  });

  test('a digest reference must hash to its digest', async () => {
    const img = makeImage('digest');
    const reg = await serve(registry(store('a/b', 't', img)));
    const c = client({ registries: insecure(reg.host) });
    const r = await c.resolve(`${reg.host}/a/b@${img.manifestDigest}`);
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.equal(reg.requests.at(-1)!.url, `/v2/a/b/manifests/${img.manifestDigest}`);

    const other = makeImage('other');
    const s = store('a/b', 't', img);
    s.manifests.set(`a/b@${img.manifestDigest}`, { body: other.manifest, mediaType: MediaType.ociManifest });
    reg.handler = registry(s);
    await assert.rejects(c.resolve(`${reg.host}/a/b@${img.manifestDigest}`), isError('failed-precondition', 'digest-mismatch'));
    await assert.rejects(c.fetchManifest(r.endpoint, 'a/b', img.manifestDigest), isError('failed-precondition', 'digest-mismatch'));
  });

  test('for a tag, Docker-Content-Digest is advisory: the digest is computed from the bytes', async () => {
    const img = makeImage('advisory');
    const s = store('x', 'v1', img);
    const lie = sha256Digest('something else');
    s.manifests.get('x:v1')!.digestHeader = lie;
    const reg = await serve(registry(s));
    const c = client({ registries: insecure(reg.host) });
    const r = await c.resolve(`${reg.host}/x:v1`);
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.equal(r.announcedDigest, lie);
  });

  test('media type comes from the body when Content-Type is generic; schema 1 is refused', async () => {
    const img = makeImage('generic');
    const s = store('x', 'v1', img);
    s.manifests.get('x:v1')!.mediaType = 'application/json';
    s.manifests.set('x:old', {
      body: Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'old', fsLayers: [], history: [] })),
      mediaType: MediaType.dockerSchema1SignedManifest,
    });
    s.manifests.set('x:bad', { body: Buffer.from('{"schemaVersion": 2, "config": '), mediaType: MediaType.ociManifest });
    s.manifests.set('x:wrongtype', { body: img.manifest, mediaType: MediaType.dockerManifest });
    const reg = await serve(registry(s));
    const c = client({ registries: insecure(reg.host) });
    assert.equal((await c.resolve(`${reg.host}/x:v1`)).descriptor.mediaType, MediaType.ociManifest);
    await assert.rejects(c.resolve(`${reg.host}/x:old`), isError('unimplemented', 'schema1-unsupported'));
    await assert.rejects(c.resolve(`${reg.host}/x:bad`), isError('invalid-argument', 'bad-manifest'));
    await assert.rejects(c.resolve(`${reg.host}/x:wrongtype`), isError('invalid-argument', 'bad-manifest'));
  });

  test('manifests are size-capped', async () => {
    const img = makeImage('big');
    const reg = await serve(registry(store('x', 'v1', img)));
    const c = client({ registries: insecure(reg.host), maxManifestBytes: 100 });
    await assert.rejects(c.resolve(`${reg.host}/x:v1`), isError('resource-exhausted', 'response-too-large'));
    const ep = resolveHosts(reg.host, insecure(reg.host))[0]!;
    await assert.rejects(
      c.fetchManifest(ep, 'x', { mediaType: MediaType.ociManifest, digest: img.manifestDigest, size: 1000 }),
      isError('resource-exhausted'),
    );
  });

  test('HTTP statuses map to error kinds', async () => {
    let status = 404;
    const reg = await serve((_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'X', message: `status ${status}` }] }));
    });
    const c = client({ registries: insecure(reg.host) });
    const ep = resolveHosts(reg.host, insecure(reg.host))[0]!;
    const d = { digest: sha256Digest('x'), size: 1 };
    const cases: Array<[number, ErrorKind, string]> = [
      [404, 'not-found', 'manifest-unknown'],
      [401, 'unauthenticated', 'registry-unauthorized'],
      [403, 'unauthenticated', 'registry-unauthorized'],
      [429, 'unavailable', 'registry-rate-limited'],
      [500, 'unavailable', 'registry-unavailable'],
      [503, 'unavailable', 'registry-unavailable'],
      [400, 'invalid-argument', 'registry-bad-request'],
    ];
    for (const [s, kind, code] of cases) {
      status = s;
      await assert.rejects(c.resolve(`${reg.host}/x:v1`), isError(kind, code), `status ${s}`);
    }
    status = 404;
    await assert.rejects(c.fetchBlob(ep, 'x', d), isError('not-found', 'blob-unknown'));
    status = 503;
    await assert.rejects(c.fetchBlob(ep, 'x', d), isError('unavailable', 'registry-unavailable'));
  });

  test('connection refused is unavailable', async () => {
    const host = `127.0.0.1:${await deadPort()}`;
    const c = client({ registries: insecure(host) });
    await assert.rejects(c.resolve(`${host}/x:v1`), isError('unavailable', 'registry-unreachable'));
    const ep = resolveHosts(host, insecure(host))[0]!;
    await assert.rejects(c.fetchBlob(ep, 'x', { digest: sha256Digest('x'), size: 1 }), isError('unavailable', 'registry-unreachable'));
  });

  test('blob size announced by the server must match the descriptor', async () => {
    const img = makeImage('size');
    const reg = await serve(registry(store('x', 'v1', img)));
    const c = client({ registries: insecure(reg.host) });
    const ep = resolveHosts(reg.host, insecure(reg.host))[0]!;
    await assert.rejects(
      c.fetchBlob(ep, 'x', { digest: img.layerDigest, size: img.layer.length + 1 }),
      isError('failed-precondition', 'size-mismatch'),
    );
  });
});

describe('mirrors', () => {
  test('a mirror keeps the path and gets ?ns=; it is tried first', async () => {
    const img = makeImage('pause');
    const mirror = await serve(registry(store('pause', '3.9', img)));
    const c = client({ registries: { 'registry.k8s.io': { mirrors: [mirror.origin] } } });
    const r = await c.resolve('registry.k8s.io/pause:3.9');
    assert.equal(mirror.requests[0]!.url, '/v2/pause/manifests/3.9?ns=registry.k8s.io');
    assert.equal(r.endpoint.mirror, true);
    const blob = await c.fetchBlob(r.endpoint, 'pause', { digest: img.layerDigest, size: img.layer.length });
    assert.deepEqual(await readAll(blob), img.layer);
    assert.equal(mirror.requests.at(-1)!.url, `/v2/pause/blobs/${img.layerDigest}?ns=registry.k8s.io`);
  });

  test('falls through on 404 and on connection errors, to the host itself', async () => {
    const img = makeImage('fallthrough');
    const empty = await serve(registry({ manifests: new Map(), blobs: new Map() }));
    const upstream = await serve(registry(store('library/busybox', 'latest', img)));
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const c = client({ registries: { [upstream.host]: { insecure: true, mirrors: [dead, empty.origin] } } });
    const r = await c.resolve(`${upstream.host}/library/busybox`);
    assert.equal(r.endpoint.mirror, false);
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.equal(empty.requests.length, 1);
    assert.equal(upstream.requests[0]!.url, '/v2/library/busybox/manifests/latest');
  });

  test('a broken mirror falls through too; the first non-404 error is reported if nothing answers', async () => {
    const failing = await serve((_req, res) => void res.writeHead(500).end('boom'));
    const empty = await serve(registry({ manifests: new Map(), blobs: new Map() }));
    const c = client({ registries: { [empty.host]: { insecure: true, mirrors: [failing.origin] } } });
    await assert.rejects(c.resolve(`${empty.host}/nothing:here`), isError('unavailable', 'registry-unavailable'));
    const c2 = client({ registries: { [empty.host]: { insecure: true, mirrors: [empty.origin] } } });
    await assert.rejects(c2.resolve(`${empty.host}/nothing:here`), isError('not-found', 'manifest-unknown'));
  });

  test('a digest mismatch at a mirror does not fall through', async () => {
    const img = makeImage('honest');
    const evil = makeImage('evil');
    const s = store('x', 'v1', img);
    s.manifests.set(`x@${img.manifestDigest}`, { body: evil.manifest, mediaType: MediaType.ociManifest });
    const mirror = await serve(registry(s));
    const upstream = await serve(registry(store('x', 'v1', img)));
    const c = client({ registries: { [upstream.host]: { insecure: true, mirrors: [mirror.origin] } } });
    await assert.rejects(c.resolve(`${upstream.host}/x@${img.manifestDigest}`), isError('failed-precondition', 'digest-mismatch'));
    assert.equal(upstream.requests.length, 0);
  });
});

describe('authentication', () => {
  /** A token server at /token and a registry demanding its tokens. */
  async function tokenSetup(options: {
    users?: Record<string, string>;
    anonymous?: boolean;
    expiresIn?: number;
    refreshTokens?: Record<string, string>;
    oauth?: boolean;
  }) {
    const img = makeImage('auth');
    const issued = new Map<string, string>();
    let n = 0;
    const auth = await serve((req, res, body) => {
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname !== '/token') return void res.writeHead(404).end();
      let user: string | undefined;
      let scope = url.searchParams.get('scope') ?? '';
      if (req.method === 'POST') {
        if (options.oauth !== true) return void res.writeHead(404).end();
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'refresh_token') return void res.writeHead(400).end();
        user = options.refreshTokens?.[form.get('refresh_token') ?? ''];
        if (user === undefined) return void res.writeHead(401).end('{"details":"bad refresh token"}');
        scope = form.get('scope') ?? '';
        const token = `oauth-${++n}`;
        issued.set(token, scope);
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(JSON.stringify({ access_token: token, expires_in: options.expiresIn ?? 300, scope }));
      }
      const header = req.headers.authorization;
      if (header !== undefined) {
        const [u, p] = Buffer.from(header.replace(/^Basic /, ''), 'base64')
          .toString()
          .split(':') as [string, string];
        const ok = options.users?.[u] === p || (u === '' && options.refreshTokens?.[p] !== undefined);
        if (!ok) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
        user = u;
      } else if (options.anonymous !== true) {
        return void res.writeHead(401).end();
      }
      const token = `token-${++n}`;
      issued.set(token, scope);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, expires_in: options.expiresIn ?? 300, issued_at: new Date().toISOString() }));
    });
    const reg = await serve(
      registry(store('private/app', 'v1', img), (req, res) => {
        const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
        const scope = m === null ? undefined : issued.get(m[1]!);
        if (scope === 'repository:private/app:pull') return true;
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${auth.origin}/token",service="fake-registry",scope="repository:private/app:pull"${m === null ? '' : ',error="invalid_token"'}`,
          'content-type': 'application/json',
        });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
        return false;
      }),
    );
    return { img, auth, reg, issued, ref: `${reg.host}/private/app:v1` };
  }

  test('bearer: anonymous token, cached per scope', async () => {
    const { img, auth, reg, ref } = await tokenSetup({ anonymous: true });
    const c = client({ registries: insecure(reg.host) });
    const r = await c.resolve(ref);
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.equal(auth.requests.length, 1);
    const tokenUrl = new URL(auth.requests[0]!.url, 'http://x');
    assert.equal(tokenUrl.searchParams.get('service'), 'fake-registry');
    assert.equal(tokenUrl.searchParams.get('scope'), 'repository:private/app:pull');
    assert.equal(auth.requests[0]!.headers.authorization, undefined);
    // the second call and the blob fetch reuse the token without another challenge
    const before = reg.requests.length;
    await c.resolve(ref);
    const blob = await c.fetchBlob(r.endpoint, 'private/app', { digest: img.layerDigest, size: img.layer.length });
    assert.deepEqual(await readAll(blob), img.layer);
    assert.equal(auth.requests.length, 1);
    assert.equal(reg.requests.length, before + 2);
    assert.equal(reg.requests.at(-1)!.headers.authorization, 'Bearer token-1');
  });

  test('bearer: username and password go to the token server as Basic', async () => {
    const { img, auth, reg, ref } = await tokenSetup({ users: { alice: 's3cret' } });
    const c = client({ registries: insecure(reg.host, auth.host) });
    const r = await c.resolve(ref, { auth: { username: 'alice', password: 's3cret' } });
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.equal(auth.requests[0]!.headers.authorization, basicOf('alice', 's3cret'));
    // the base64 `auth` form works the same
    const c2 = client({ registries: insecure(reg.host, auth.host) });
    await c2.resolve(ref, { auth: { auth: Buffer.from('alice:s3cret').toString('base64') } });
  });

  test('bearer: credentials never go in the clear to a token realm nobody marked for plain HTTP', async () => {
    const { auth, reg, ref } = await tokenSetup({ users: { alice: 's3cret' } });
    const c = client({ registries: insecure(reg.host) });
    await assert.rejects(
      c.resolve(ref, { auth: { username: 'alice', password: 's3cret' } }),
      isError('failed-precondition', 'credentials-need-tls'),
    );
    assert.equal(auth.requests.length, 0, 'the token server heard nothing');
  });

  test('bearer: a wrong password is unauthenticated with a clear message', async () => {
    const { auth, reg, ref } = await tokenSetup({ users: { alice: 's3cret' } });
    const c = client({ registries: insecure(reg.host, auth.host) });
    await assert.rejects(c.resolve(ref, { auth: { username: 'alice', password: 'wrong' } }), (e: unknown) => {
      isError('unauthenticated', 'registry-unauthorized')(e);
      assert.match((e as Error).message, /credentials were rejected/);
      assert.doesNotMatch((e as Error).message, /wrong"|s3cret/);
      return true;
    });
    // and without credentials where the token server wants them
    await assert.rejects(c.resolve(ref), (e: unknown) => {
      isError('unauthenticated', 'registry-unauthorized')(e);
      assert.match((e as Error).message, /requires credentials/);
      return true;
    });
  });

  test('bearer: an expired token is fetched again', async () => {
    let now = Date.now();
    const { auth, reg, ref } = await tokenSetup({ anonymous: true, expiresIn: 60 });
    const c = client({ registries: insecure(reg.host), now: () => now });
    await c.resolve(ref);
    await c.resolve(ref);
    assert.equal(auth.requests.length, 1);
    now += 61_000;
    await c.resolve(ref);
    assert.equal(auth.requests.length, 2);
  });

  test('bearer: a token the registry refuses is fetched once more, then the error is unauthenticated', async () => {
    const { auth, reg, ref, issued } = await tokenSetup({ anonymous: true });
    const c = client({ registries: insecure(reg.host) });
    await c.resolve(ref);
    issued.clear(); // the registry forgets every token
    await c.resolve(ref); // cached token refused → challenge → new token → ok
    assert.equal(auth.requests.length, 2);
    // now the registry refuses every token: insufficient scope
    const original = reg.handler;
    reg.handler = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${auth.origin}/token",service="fake-registry",error="insufficient_scope"` });
      res.end();
    };
    await assert.rejects(c.resolve(ref), isError('unauthenticated', 'registry-unauthorized'));
    reg.handler = original;
  });

  test('identity token: OAuth2 refresh-token grant by POST', async () => {
    const { img, auth, reg, ref } = await tokenSetup({ oauth: true, refreshTokens: { 'refresh-abc': 'bob' } });
    const c = client({ registries: insecure(reg.host, auth.host) });
    const r = await c.resolve(ref, { auth: { identityToken: 'refresh-abc' } });
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.equal(auth.requests[0]!.method, 'POST');
    const form = new URLSearchParams(auth.requests[0]!.body);
    assert.equal(form.get('grant_type'), 'refresh_token');
    assert.equal(form.get('refresh_token'), 'refresh-abc');
    assert.equal(form.get('service'), 'fake-registry');
    assert.equal(form.get('scope'), 'repository:private/app:pull');
    assert.ok(form.get('client_id'));
    await assert.rejects(c.resolve(ref, { auth: { identityToken: 'nope' } }), isError('unauthenticated', 'registry-unauthorized'));
  });

  test('identity token: falls back to GET when the token server has no OAuth2', async () => {
    const { img, auth, reg, ref } = await tokenSetup({ oauth: false, refreshTokens: { 'refresh-abc': 'bob' } });
    const c = client({ registries: insecure(reg.host, auth.host) });
    const r = await c.resolve(ref, { auth: { identityToken: 'refresh-abc' } });
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.deepEqual(
      auth.requests.map((x) => x.method),
      ['POST', 'GET'],
    );
    assert.equal(auth.requests[1]!.headers.authorization, basicOf('', 'refresh-abc'));
  });

  test('registry token is used directly as Bearer', async () => {
    const img = makeImage('regtoken');
    const reg = await serve(
      registry(store('x', 'v1', img), (req, res) => {
        if (req.headers.authorization === 'Bearer given-token') return true;
        res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://127.0.0.1:1/token"' }).end();
        return false;
      }),
    );
    const c = client({ registries: insecure(reg.host) });
    const r = await c.resolve(`${reg.host}/x:v1`, { auth: { registryToken: 'given-token' } });
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.equal(reg.requests.length, 1);
    await assert.rejects(
      c.resolve(`${reg.host}/x:v1`, { auth: { registryToken: 'other' } }),
      isError('unauthenticated', 'registry-unauthorized'),
    );
  });

  test('basic: credentials after a Basic challenge; wrong or missing ones are unauthenticated', async () => {
    const img = makeImage('basic');
    const reg = await serve(
      registry(store('x', 'v1', img), (req, res) => {
        if (req.headers.authorization === basicOf('carol', 'pw')) return true;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="Registry Realm"' }).end();
        return false;
      }),
    );
    const c = client({ registries: insecure(reg.host) });
    const r = await c.resolve(`${reg.host}/x:v1`, { auth: { username: 'carol', password: 'pw' } });
    assert.equal(r.descriptor.digest, img.manifestDigest);
    assert.equal(reg.requests.length, 2);
    // known challenge: credentials sent up front now
    const blob = await c.fetchBlob(
      r.endpoint,
      'x',
      { digest: img.configDigest, size: img.config.length },
      { auth: { username: 'carol', password: 'pw' } },
    );
    assert.deepEqual(await readAll(blob), img.config);
    assert.equal(reg.requests.length, 3);
    const fresh = client({ registries: insecure(reg.host) });
    await assert.rejects(fresh.resolve(`${reg.host}/x:v1`, { auth: { username: 'carol', password: 'bad' } }), (e: unknown) => {
      isError('unauthenticated', 'registry-unauthorized')(e);
      assert.match((e as Error).message, /rejected the credentials/);
      return true;
    });
    await assert.rejects(fresh.resolve(`${reg.host}/x:v1`), (e: unknown) => {
      isError('unauthenticated', 'registry-unauthorized')(e);
      assert.match((e as Error).message, /no credentials were given/);
      return true;
    });
  });
});

describe('blob streaming', () => {
  test('a stalled body fails with no-progress', async () => {
    const reg = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(100));
      // …and nothing more
    });
    const c = client({ registries: insecure(reg.host) });
    const ep = resolveHosts(reg.host, insecure(reg.host))[0]!;
    const blob = await c.fetchBlob(ep, 'x', { digest: sha256Digest('x'), size: 1000 }, { noProgressTimeoutMs: 200 });
    let got = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of blob) got += chunk.byteLength;
      })(),
      isError('deadline-exceeded', 'no-progress'),
    );
    assert.equal(got, 100, 'the 100 bytes sent, then the no-progress timer (the body never completes)');
  });

  test('a slow but steady body is fine', async () => {
    const reg = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 5 });
      let i = 0;
      const t = setInterval(() => {
        res.write('x');
        if (++i === 5) {
          clearInterval(t);
          res.end();
        }
      }, 60);
    });
    const c = client({ registries: insecure(reg.host) });
    const ep = resolveHosts(reg.host, insecure(reg.host))[0]!;
    const blob = await c.fetchBlob(ep, 'x', { digest: sha256Digest('xxxxx'), size: 5 }, { noProgressTimeoutMs: 200 });
    assert.equal((await readAll(blob)).toString(), 'xxxxx');
  });

  test('no response headers within the timeout is no-progress', async () => {
    const reg = await serve(() => {
      // never answers
    });
    const c = client({ registries: insecure(reg.host), noProgressTimeoutMs: 200 });
    const ep = resolveHosts(reg.host, insecure(reg.host))[0]!;
    await assert.rejects(c.fetchBlob(ep, 'x', { digest: sha256Digest('x'), size: 1 }), isError('deadline-exceeded', 'no-progress'));
  });

  test('a connection cut mid-body is unavailable', async () => {
    const reg = await serve((req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(100), () => setTimeout(() => req.socket.destroy(), 20));
    });
    const c = client({ registries: insecure(reg.host) });
    const ep = resolveHosts(reg.host, insecure(reg.host))[0]!;
    const blob = await c.fetchBlob(ep, 'x', { digest: sha256Digest('x'), size: 1000 });
    await assert.rejects(readAll(blob), isError('unavailable', 'transfer-interrupted'));
  });

  test('redirects are followed; the registry Authorization is not sent to another host', async () => {
    const img = makeImage('redirect');
    const cdn = await serve((req, res) => {
      const digest = new URL(req.url ?? '/', 'http://x').searchParams.get('d');
      const body = digest === img.layerDigest ? img.layer : undefined;
      if (body === undefined) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': body.length }).end(body);
    });
    const reg = await serve((req, res) => {
      if (req.headers.authorization !== 'Bearer reg-token') return void res.writeHead(401).end();
      const m = /\/blobs\/(.+)$/.exec(req.url ?? '');
      if (m === null) return void res.writeHead(404).end();
      if (req.url?.includes('/same/')) return void res.writeHead(307, { location: req.url.replace('/same/', '/other/') }).end();
      res.writeHead(307, { location: `${cdn.origin}/storage?d=${m[1]}&X-Amz-Signature=secret` }).end();
    });
    const c = client({ registries: insecure(reg.host) });
    const ep = resolveHosts(reg.host, insecure(reg.host))[0]!;
    const auth = { registryToken: 'reg-token' };
    const blob = await c.fetchBlob(ep, 'same', { digest: img.layerDigest, size: img.layer.length }, { auth });
    assert.deepEqual(await readAll(blob), img.layer);
    assert.match(blob.url, new RegExp(`^${cdn.origin}/storage`));
    assert.equal(cdn.requests.length, 1);
    assert.equal(cdn.requests[0]!.headers.authorization, undefined);
    // the same-origin hop kept the registry's Authorization
    assert.equal(reg.requests.length, 2);
    assert.equal(reg.requests[1]!.headers.authorization, 'Bearer reg-token');
  });

  test('an aborted signal cancels the request and the body', async () => {
    const reg = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      res.write(Buffer.alloc(10));
    });
    const c = client({ registries: insecure(reg.host) });
    const ep = resolveHosts(reg.host, insecure(reg.host))[0]!;
    const ac = new AbortController();
    const blob = await c.fetchBlob(ep, 'x', { digest: sha256Digest('x'), size: 1000 }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(readAll(blob), isError('cancelled'));
    await assert.rejects(c.resolve(parseReference(`${reg.host}/x:v1`), { signal: AbortSignal.abort() }), isError('cancelled'));
    const never = await serve(() => {});
    const c2 = client({ registries: insecure(never.host) });
    await assert.rejects(c2.resolve(`${never.host}/x:v1`, { signal: AbortSignal.timeout(100) }), isError('deadline-exceeded'));
  });
});
