// The serving certificate of the node API's HTTPS port, as the kubelet finds it: the files given
// (--tls-cert-file, --tls-private-key-file), else a self-signed one kept in the certificate folder
// (made once, again when it has expired). node:crypto cannot write X.509, so the openssl CLI makes it.
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { failedPrecondition, invalidArgument } from '../errors/errors.ts';
import type { Logger } from '../util/logger.ts';

const run = promisify(execFile);

export interface ServingCertificateOptions {
  certFile?: string;
  keyFile?: string;
  /** Where the self-signed pair is kept (node.crt, node.key). */
  certDir: string;
  /** Names and addresses the self-signed certificate is for. */
  names: string[];
  logger: Logger;
}

export interface ServingCertificate {
  cert: Buffer;
  key: Buffer;
  certFile: string;
  keyFile: string;
}

async function readPair(certFile: string, keyFile: string): Promise<ServingCertificate> {
  try {
    return { cert: await readFile(certFile), key: await readFile(keyFile), certFile, keyFile };
  } catch (e) {
    throw invalidArgument('bad-tls-files', `cannot read the serving certificate: ${(e as Error).message}`, { cause: e });
  }
}

function stillValid(pem: Buffer): boolean {
  try {
    return Date.parse(new X509Certificate(pem).validTo) > Date.now();
  } catch {
    return false;
  }
}

async function selfSigned(options: ServingCertificateOptions, certFile: string, keyFile: string): Promise<void> {
  await mkdir(options.certDir, { recursive: true, mode: 0o700 });
  const names = [...new Set(options.names.filter(Boolean))];
  const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
  const tmpCert = `${certFile}.tmp`;
  const tmpKey = `${keyFile}.tmp`;
  try {
    await run(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '365',
        '-subj',
        `/CN=${names[0] ?? 'berth-node'}@${Math.floor(Date.now() / 1000)}`,
        '-addext',
        `subjectAltName=${san}`,
        '-addext',
        'extendedKeyUsage=serverAuth',
        '-keyout',
        tmpKey,
        '-out',
        tmpCert,
      ],
      { timeout: 30_000 },
    );
    await chmod(tmpKey, 0o600);
    await rename(tmpKey, keyFile);
    await rename(tmpCert, certFile);
  } catch (e) {
    await rm(tmpCert, { force: true });
    await rm(tmpKey, { force: true });
    throw failedPrecondition('serving-certificate', `cannot make a self-signed serving certificate with openssl: ${(e as Error).message}`, {
      cause: e,
    });
  }
  options.logger.info({ certFile, names }, 'made a self-signed serving certificate for the node API');
}

export async function servingCertificate(options: ServingCertificateOptions): Promise<ServingCertificate> {
  if ((options.certFile === undefined) !== (options.keyFile === undefined)) {
    throw invalidArgument('bad-flag', '--tls-cert-file and --tls-private-key-file go together');
  }
  if (options.certFile !== undefined && options.keyFile !== undefined) return readPair(options.certFile, options.keyFile);
  const certFile = path.join(options.certDir, 'node.crt');
  const keyFile = path.join(options.certDir, 'node.key');
  const existing = await readFile(certFile).catch(() => undefined);
  if (existing === undefined || !stillValid(existing)) await selfSigned(options, certFile, keyFile);
  return readPair(certFile, keyFile);
}
