// Registry credentials go only over TLS or to a host the operator marked for plain HTTP: a
// registry that points its token realm at another plain-HTTP host gets no password from the daemon.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { startDaemon, type TestDaemon } from '../support/daemon.ts';
import { assertNoLeftovers, expectCriError, setUpAndTearDown } from './support.ts';

let daemon: TestDaemon;
let registry: Server;
let tokenServer: Server;
const tokenRequests: IncomingHttpHeaders[] = [];

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let registryHost = '';

setUpAndTearDown(
  async () => {
    tokenServer = createServer((req, res) => {
      tokenRequests.push(req.headers);
      res.writeHead(401).end();
    });
    const tokenHost = await listen(tokenServer);
    // A registry (marked insecure by the operator) whose token realm is another plain-HTTP host.
    registry = createServer((_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${tokenHost}/token",service="elsewhere"` }).end();
    });
    registryHost = await listen(registry);
    daemon = await startDaemon({ registries: { [registryHost]: { mirrors: [], insecure: true } } });
  },
  async () => {
    const left = await daemon?.stop();
    registry?.close();
    tokenServer?.close();
    assert.deepEqual(left ?? [], []);
  },
);

test('a token realm on an unmarked plain-HTTP host: FAILED_PRECONDITION, and the password is never sent', async () => {
  const ref = `${registryHost}/private/app:1`;
  const error = await expectCriError(
    daemon.cri.image.pullImage({ image: { image: ref }, auth: { username: 'alice', password: 'pa55word' } }),
    'FAILED_PRECONDITION',
    /only over TLS/,
  );
  assert.equal(error.code, 'credentials-need-tls');
  assert.equal(tokenRequests.length, 0, 'the token server heard nothing');
  // Without credentials there is nothing to protect: the token server is asked, anonymously.
  await expectCriError(daemon.cri.image.pullImage({ image: { image: ref } }), 'UNAUTHENTICATED');
  assert.equal(tokenRequests.length, 1);
  assert.equal(tokenRequests[0]!.authorization, undefined);
  await assertNoLeftovers(daemon, ref);
});
