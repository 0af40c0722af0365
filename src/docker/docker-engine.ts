// The Docker Engine behind the dockershim: a dockerode client on the engine's socket (or TCP
// address) at an API version both sides speak, and Docker's HTTP errors as berth's typed errors.
import Docker from 'dockerode';
import { type BerthError, failedPrecondition, invalidArgument, isBerthError, toBerthError, unavailable } from '../errors/errors.ts';

/** The oldest engine API the dockershim speaks: Debian 12's docker.io (20.10). */
export const MIN_API_VERSION = '1.41';
/** The newest it asks for; a newer engine serves older versions too. */
export const MAX_API_VERSION = '1.47';

export interface DockerEngine {
  readonly docker: Docker;
  /** The API version in use (`1.41`). */
  readonly apiVersion: string;
  /** What the engine says of itself (`20.10.24+dfsg1`). */
  readonly engineVersion: string;
}

function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am - bm || an - bn;
}

/** `unix:///var/run/docker.sock` or `tcp://HOST:PORT` as dockerode's connection options. */
export function connectionOptions(dockerHost: string): Docker.DockerOptions {
  let url: URL;
  try {
    url = new URL(dockerHost);
  } catch (e) {
    throw invalidArgument('bad-docker-host', `docker host "${dockerHost}" is not a URL (unix:///PATH or tcp://HOST:PORT)`, { cause: e });
  }
  if (url.protocol === 'unix:' && url.pathname.startsWith('/')) return { socketPath: url.pathname };
  if (url.protocol === 'tcp:' || url.protocol === 'http:') {
    return { protocol: 'http', host: url.hostname, port: Number(url.port || 2375) };
  }
  throw invalidArgument('bad-docker-host', `docker host "${dockerHost}" must be unix:///PATH or tcp://HOST:PORT`);
}

/**
 * Connects and negotiates the API version as the docker CLI does: the engine's own version when it
 * is older than ours, ours otherwise; an engine older than MIN_API_VERSION is refused.
 */
export async function connectDockerEngine(dockerHost: string): Promise<DockerEngine> {
  const options = connectionOptions(dockerHost);
  const unversioned = new Docker(options);
  const version = await dockerCall(`reach the Docker Engine at ${dockerHost}`, () => unversioned.version());
  const engineApi = version.ApiVersion;
  if (compareVersions(engineApi, MIN_API_VERSION) < 0) {
    throw failedPrecondition(
      'docker-too-old',
      `the Docker Engine at ${dockerHost} speaks API ${engineApi}; the dockershim needs ${MIN_API_VERSION} or newer`,
      { fields: { engineApi } },
    );
  }
  const apiVersion = compareVersions(engineApi, MAX_API_VERSION) < 0 ? engineApi : MAX_API_VERSION;
  return { docker: new Docker({ ...options, version: `v${apiVersion}` }), apiVersion, engineVersion: version.Version };
}

interface DockerHttpError {
  statusCode?: number;
  json?: { message?: string } | null;
  reason?: string;
  code?: string;
  message?: string;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EACCES']);

/** The engine's message of a failed call, without dockerode's "(HTTP code 404) no such container -" prefix. */
export function engineMessage(e: unknown): string {
  const err = e as DockerHttpError;
  return err.json?.message ?? err.reason ?? err.message ?? String(e);
}

/** Docker's answer to a failed call as a typed error; `what` says what was asked ("inspect container X"). */
export function dockerError(what: string, e: unknown): BerthError {
  if (isBerthError(e)) return e;
  const err = e as DockerHttpError;
  const message = `${what}: ${engineMessage(e)}`;
  const fields = { status: err.statusCode };
  switch (err.statusCode) {
    case 400:
      return invalidArgument('docker-bad-request', message, { cause: e, fields });
    case 404:
      return failedPrecondition('docker-not-found', message, { cause: e, fields });
    case 409:
      return failedPrecondition('docker-conflict', message, { cause: e, fields });
    case 500:
    case 502:
    case 503:
      return unavailable('docker-engine-error', message, { cause: e, fields });
    case undefined:
      if (err.code && UNREACHABLE.has(err.code)) {
        return unavailable('docker-unavailable', `${what}: the Docker Engine cannot be reached (${err.code})`, { cause: e });
      }
      return toBerthError(e);
    default:
      return unavailable('docker-engine-error', message, { cause: e, fields });
  }
}

/** Runs one engine call, turning its failure into a typed error. */
export async function dockerCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw dockerError(what, e);
  }
}

/** Whether a failed engine call was a 404 (no such container or image). */
export function isDockerNotFound(e: unknown): boolean {
  return (e as DockerHttpError).statusCode === 404 || (isBerthError(e) && e.code === 'docker-not-found');
}
