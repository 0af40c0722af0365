// PullImage through the Docker Engine: from each mirror of the asked host under the mirror's name
// (by digest, so that no mirror-named tag ever exists), tagged under the asked name; then from the
// host itself. The whole progress stream is read: an error in it fails the pull.
import { BerthError, cancelled, isBerthError, notFound, toBerthError, unauthenticated, unavailable } from '../errors/errors.ts';
import type { Digest } from '../oci/digest.ts';
import type { ImageReference } from '../oci/reference.ts';
import { type DockerEngine, dockerCall, dockerError, engineMessage } from './docker-engine.ts';
import { pullSources, type Registries } from './docker-image-names.ts';

export interface DockerPullOptions {
  /** The X-Registry-Auth header value, if the request brought credentials. */
  auth: string | undefined;
  signal: AbortSignal;
}

const UNAUTHORIZED = /unauthorized|authentication required|no basic auth credentials|denied|incorrect username or password/i;
const NOT_FOUND = /manifest unknown|not found|name unknown|repository name not known|no matching manifest/i;
const UNREACHABLE =
  /dial tcp|connection refused|no such host|i\/o timeout|tls:|x509:|server gave HTTP response to HTTPS client|network is unreachable|connection reset|EOF/i;

/** What the engine said of a registry's answer, as a typed error. */
function registryError(what: string, message: string, status?: number): BerthError {
  const full = `${what}: ${message}`;
  const fields = { status };
  if (UNAUTHORIZED.test(message)) return unauthenticated('docker-pull-unauthorized', full, { fields });
  if (status === 404 || NOT_FOUND.test(message)) return notFound('docker-pull-not-found', full, { fields });
  if (UNREACHABLE.test(message)) return unavailable('docker-pull-unreachable', full, { fields });
  return unavailable('docker-pull-failed', full, { fields });
}

/** The engine's message; for a streamed call dockerode leaves it only in its own "(HTTP code 500) server error - …". */
function pullMessage(e: unknown): string {
  const err = e as { json?: { message?: string } | null; message?: string };
  if (typeof err.json?.message === 'string') return err.json.message;
  const m = /^\(HTTP code \d+\) [^-]*- ([\s\S]*)$/.exec(err.message ?? '');
  return m ? m[1]!.trim() : engineMessage(e);
}

function callError(what: string, e: unknown, signal: AbortSignal): BerthError {
  if (signal.aborted) return cancelled('cancelled', `${what}: cancelled`, { cause: e });
  if (isBerthError(e)) return e;
  const status = (e as { statusCode?: number }).statusCode;
  // No status: the engine itself was not reached (or the connection broke).
  if (status === undefined) return dockerError(what, e);
  return registryError(what, pullMessage(e), status);
}

interface ProgressMessage {
  error?: string;
  errorDetail?: { message?: string };
}

/** Reads the engine's JSON lines to the end; the first error in them fails the pull. */
async function consumeProgress(what: string, stream: NodeJS.ReadableStream): Promise<void> {
  let pending = '';
  const check = (line: string) => {
    if (line.trim() === '') return;
    let msg: ProgressMessage;
    try {
      msg = JSON.parse(line) as ProgressMessage;
    } catch {
      return; // not a progress message: nothing to act on
    }
    const error = msg.errorDetail?.message ?? msg.error;
    if (error !== undefined) throw registryError(what, error);
  };
  for await (const chunk of stream) {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) check(line);
  }
  check(pending);
}

async function dockerPull(engine: DockerEngine, name: string, options: DockerPullOptions): Promise<void> {
  const what = `pull ${name}`;
  const { signal } = options;
  try {
    signal.throwIfAborted();
    const auth = options.auth === undefined ? undefined : { key: options.auth };
    const stream = await engine.docker.createImage(auth, { fromImage: name, abortSignal: signal });
    const readable = stream as NodeJS.ReadableStream & { destroy(error?: Error): void };
    const abort = () => readable.destroy(cancelled('cancelled', `${what}: cancelled`));
    signal.addEventListener('abort', abort, { once: true });
    try {
      await consumeProgress(what, stream);
    } finally {
      signal.removeEventListener('abort', abort);
    }
  } catch (e) {
    throw callError(what, e, signal);
  }
}

/** The digest a tag points to, as the engine resolves it (GET /distribution/NAME/json). */
async function resolveDigest(engine: DockerEngine, name: string, options: DockerPullOptions): Promise<Digest> {
  const what = `resolve ${name}`;
  try {
    const answer = await new Promise<{ Descriptor?: { digest?: string } }>((resolve, reject) => {
      engine.docker.modem.dial(
        {
          path: `/distribution/${name}/json?`,
          method: 'GET',
          options: {},
          authconfig: options.auth === undefined ? undefined : { key: options.auth },
          abortSignal: options.signal,
          statusCodes: { 200: true, 401: 'unauthorized', 403: 'forbidden', 404: 'not found', 500: 'server error' },
        },
        (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as { Descriptor?: { digest?: string } })),
      );
    });
    const digest = answer.Descriptor?.digest;
    if (digest === undefined) throw unavailable('docker-pull-failed', `${what}: the engine answered no digest`);
    return digest as Digest;
  } catch (e) {
    throw callError(what, e, options.signal);
  }
}

async function pullFromMirror(engine: DockerEngine, ref: ImageReference, repository: ImageReference, options: DockerPullOptions) {
  const digest = ref.digest ?? (await resolveDigest(engine, repository.withTag(ref.tag ?? 'latest').string(), options));
  const mirrorName = repository.withDigest(digest).string();
  await dockerPull(engine, mirrorName, options);
  if (ref.digest === undefined && ref.tag !== undefined) {
    const tag = ref.tag;
    await dockerCall(`tag ${mirrorName} as ${ref.string()}`, () =>
      engine.docker.getImage(mirrorName).tag({ repo: ref.repository().string(), tag }),
    );
  }
  return mirrorName;
}

/** Pulls `ref`; answers the Docker name the image now has locally. */
export async function pullThroughDocker(
  engine: DockerEngine,
  registries: Registries,
  ref: ImageReference,
  options: DockerPullOptions,
): Promise<string> {
  const attempts: { from: string; label: string; error: BerthError }[] = [];
  for (const source of pullSources(ref, registries)) {
    const from = source.mirror === undefined ? ref.domain : `mirror ${source.mirror}`;
    const label = source.mirror === undefined ? '' : `via ${from}: `;
    try {
      if ('unusable' in source) throw source.unusable;
      if (source.mirror === undefined) {
        await dockerPull(engine, ref.string(), options);
        return ref.string();
      }
      return await pullFromMirror(engine, ref, source.repository, options);
    } catch (e) {
      const error = toBerthError(e);
      // A cancelled pull or an engine that is down ends it; a registry's answer tries the next.
      if (error.kind === 'cancelled' || error.code === 'docker-unavailable' || error.code === 'docker-conflict') throw error;
      attempts.push({ from, label, error });
    }
  }
  if (attempts.length === 1) throw attempts[0]!.error;
  // The first answer that is not "no such image" says the most (an unreachable host, bad credentials).
  const chosen = attempts.find((a) => a.error.kind !== 'not-found') ?? attempts[0]!;
  const message = `pull ${ref.string()} failed everywhere: ${attempts.map((a) => a.label + a.error.message).join('; ')}`;
  const fields = { attempts: attempts.map((a) => ({ from: a.from, code: a.error.code })) };
  throw new BerthError(chosen.error.kind, chosen.error.code, message, { cause: chosen.error, fields });
}
