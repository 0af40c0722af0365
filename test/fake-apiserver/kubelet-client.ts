// How the fake reaches a node's kubelet port, as kube-apiserver does with --kubelet-client-certificate
// and --kubelet-client-key: HTTPS with a client certificate (CN kube-apiserver-kubelet-client, O
// system:masters) issued by a test CA that the node is given as its --client-ca-file. The node's
// serving certificate is verified only against a --kubelet-certificate-authority when one is given.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface KubeletClient {
  /** The CA that issued the client certificate: the node's --client-ca-file. */
  ca: string;
  cert: string;
  key: string;
  /** kube-apiserver's --kubelet-certificate-authority: when set, the node's serving certificate must chain to it. */
  kubeletCertificateAuthority?: string;
}

export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';

/** The TLS options of a connection to a kubelet port. */
export function kubeletTlsOptions(client: KubeletClient) {
  return client.kubeletCertificateAuthority !== undefined
    ? { cert: client.cert, key: client.key, ca: client.kubeletCertificateAuthority, rejectUnauthorized: true }
    : { cert: client.cert, key: client.key, rejectUnauthorized: false };
}

/** A test CA and a kubelet client certificate it issued (openssl). */
export async function makeKubeletClient(): Promise<KubeletClient> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-fake-kubelet-client-'));
  const file = (name: string) => path.join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await run('openssl', [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
      '-days',
      '1',
      '-subj',
      '/CN=kubernetes-ca',
    ]);
    await run('openssl', [
      'req',
      ...ec,
      '-keyout',
      file('client.key'),
      '-out',
      file('client.csr'),
      '-subj',
      `/O=system:masters/CN=${KUBELET_CLIENT_USER}`,
    ]);
    await writeFile(file('ext.cnf'), 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n');
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file('client.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '1',
      '-extfile',
      file('ext.cnf'),
      '-out',
      file('client.crt'),
    ]);
    const [ca, cert, key] = await Promise.all(['ca.crt', 'client.crt', 'client.key'].map((n) => readFile(file(n), 'utf8')));
    return { ca: ca!, cert: cert!, key: key! };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
