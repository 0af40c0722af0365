// A real OCI distribution registry (Debian's `docker-registry`, distribution 2.8)
// on loopback, for integration tests. Each call starts its own process on a free
// port with its own storage; stop() kills it and removes what it wrote.
//
//   const registry = await startRegistry({ auth: { username: 'alice', password: 's3cret' } });
//   try { ... registry.url ... } finally { await registry.stop(); }
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sleep } from '../../src/util/sleep.ts';
import { freePort } from './ports.ts';
import { makeTempDir } from './tmp.ts';

const execFileAsync = promisify(execFile);

export interface Credentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** Require HTTP basic auth (htpasswd, bcrypt) with these credentials. */
  auth?: Credentials;
  /**
   * Directory for the config, password file and storage. It is created when
   * missing and kept by stop(), so a second registry started on the same dir
   * serves the same content. Without it a temp dir is made and removed.
   */
  dir?: string;
  /** Answer with relative `Location` headers (`http.relativeurls`). Default false: absolute URLs. */
  relativeUrls?: boolean;
  /** How long to wait for `/v2/` to answer. Default 15 s. */
  startTimeoutMs?: number;
  /** The registry's own log level. Default 'warn'. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
}

export interface TestRegistry extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `127.0.0.1:PORT`, the registry part of an image reference. */
  readonly host: string;
  readonly port: number;
  /** The directory holding config.yml, htpasswd and storage/. */
  readonly dir: string;
  /** The credentials the registry requires, when started with auth. */
  readonly auth: Credentials | undefined;
  /** Process id of the registry. */
  readonly pid: number;
  /** What the registry wrote to stdout/stderr (the last 256 KiB). */
  logs(): string;
  /** Where the filesystem driver keeps the bytes of a blob (manifests are blobs too). */
  blobPath(digest: string): string;
  /**
   * Flips bytes of a stored blob in place (same size), so the registry serves
   * content that no longer matches its digest. Default: one byte in the middle.
   */
  corruptStoredBlob(digest: string, opts?: { offset?: number; count?: number }): Promise<void>;
  /** Kills the registry (SIGTERM, then SIGKILL) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

const LOG_LIMIT = 256 * 1024;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort when a test forgets stop() or the runner exits early.
  process.on('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

function registryBinary(): string {
  for (const candidate of ['/usr/bin/docker-registry', '/usr/local/bin/docker-registry']) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('docker-registry is not installed (run scripts/install-test-deps.sh)');
}

/** Writes an htpasswd file with a bcrypt hash (the only hash docker-registry accepts). */
export async function writeHtpasswd(path: string, creds: Credentials): Promise<void> {
  if (!existsSync('/usr/bin/htpasswd')) {
    throw new Error('htpasswd is not installed (run scripts/install-test-deps.sh)');
  }
  await execFileAsync('/usr/bin/htpasswd', ['-B', '-b', '-c', path, creds.username, creds.password]);
}

/** The environment for the child, without REGISTRY_* variables that would override the config. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('REGISTRY_') && !key.startsWith('OTEL_')) env[key] = value;
  }
  return env;
}

async function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.off('exit', onExit);
      resolve(false);
    }, ms);
    const onExit = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    child.once('exit', onExit);
  });
}

async function killChild(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    if (!(await waitForExit(child, 3000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 3000);
    }
  }
  live.delete(child);
}

interface Started {
  child: ChildProcess;
  port: number;
  logs: () => string;
}

async function startOnce(
  dir: string,
  storageDir: string,
  options: RegistryOptions,
  htpasswdPath: string | undefined,
): Promise<Started | 'port-taken'> {
  const port = await freePort();
  const config = {
    version: '0.1',
    log: { level: options.logLevel ?? 'warn', formatter: 'text', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: storageDir },
      delete: { enabled: true },
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: {
      addr: `127.0.0.1:${port}`,
      secret: randomBytes(16).toString('hex'),
      relativeurls: options.relativeUrls ?? false,
      headers: { 'X-Content-Type-Options': ['nosniff'] },
    },
    health: { storagedriver: { enabled: false } },
    ...(htpasswdPath !== undefined ? { auth: { htpasswd: { realm: 'berth-test-registry', path: htpasswdPath } } } : {}),
  };
  // JSON is YAML: the registry's YAML parser reads it as is.
  const configPath = join(dir, 'config.yml');
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);

  const binary = registryBinary();
  // setpriv --pdeathsig: the registry dies with the test process even on a crash.
  const useSetpriv = existsSync('/usr/bin/setpriv');
  const command = useSetpriv ? '/usr/bin/setpriv' : binary;
  const args = useSetpriv ? ['--pdeathsig', 'SIGKILL', '--', binary, 'serve', configPath] : ['serve', configPath];
  const child = spawn(command, args, { cwd: dir, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  installExitHook();

  let log = '';
  const append = (chunk: Buffer): void => {
    log += chunk.toString('utf8');
    if (log.length > LOG_LIMIT) log = log.slice(log.length - LOG_LIMIT);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });

  const deadline = Date.now() + (options.startTimeoutMs ?? 15_000);
  const url = `http://127.0.0.1:${port}/v2/`;
  while (Date.now() < deadline) {
    if (spawnError !== undefined) {
      live.delete(child);
      throw new Error(`docker-registry failed to start: ${spawnError.message}`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      live.delete(child);
      if (/address already in use/i.test(log)) return 'port-taken';
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}) before answering:\n${log}`);
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      // 200 without auth, 401 with: either way it is serving.
      if (res.status === 200 || res.status === 401) return { child, port, logs: () => log };
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  await killChild(child);
  throw new Error(`docker-registry did not answer on ${url} in time:\n${log}`);
}

/** Starts a docker-registry on a free loopback port and waits until `/v2/` answers. */
export async function startRegistry(options: RegistryOptions = {}): Promise<TestRegistry> {
  const ownDir = options.dir === undefined ? await makeTempDir('berth-registry-') : undefined;
  const dir = options.dir ?? (ownDir as { path: string }).path;
  try {
    await mkdir(dir, { recursive: true });
    const storageDir = join(dir, 'storage');
    await mkdir(storageDir, { recursive: true });
    let htpasswdPath: string | undefined;
    if (options.auth !== undefined) {
      htpasswdPath = join(dir, 'htpasswd');
      await writeHtpasswd(htpasswdPath, options.auth);
    }

    let started: Started | 'port-taken' = 'port-taken';
    for (let attempt = 0; attempt < 5 && started === 'port-taken'; attempt++) {
      started = await startOnce(dir, storageDir, options, htpasswdPath);
    }
    if (started === 'port-taken') throw new Error('docker-registry: no free port after 5 attempts');
    const { child, port, logs } = started;

    let stopping: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopping ??= (async () => {
        await killChild(child);
        await ownDir?.remove();
      })();
      return stopping;
    };
    const blobPath = (digest: string): string => {
      const m = /^([a-z0-9]+):([a-f0-9]+)$/.exec(digest);
      if (m === null) throw new Error(`not a digest: ${digest}`);
      const [, algorithm, hex] = m as unknown as [string, string, string];
      return join(storageDir, 'docker', 'registry', 'v2', 'blobs', algorithm, hex.slice(0, 2), hex, 'data');
    };
    const registry: TestRegistry = {
      url: `http://127.0.0.1:${port}`,
      host: `127.0.0.1:${port}`,
      port,
      dir,
      auth: options.auth,
      pid: child.pid as number,
      logs,
      blobPath,
      async corruptStoredBlob(digest, opts = {}) {
        const handle = await open(blobPath(digest), 'r+');
        try {
          const { size } = await handle.stat();
          if (size === 0) throw new Error(`blob ${digest} is empty: nothing to corrupt`);
          const count = Math.min(opts.count ?? 1, size);
          const offset = Math.min(opts.offset ?? Math.floor(size / 2), size - count);
          const buf = Buffer.alloc(count);
          await handle.read(buf, 0, count, offset);
          for (let i = 0; i < count; i++) buf[i] = (buf[i] as number) ^ 0xff;
          await handle.write(buf, 0, count, offset);
        } finally {
          await handle.close();
        }
      },
      stop,
      [Symbol.asyncDispose]: stop,
    };
    return registry;
  } catch (err) {
    await ownDir?.remove();
    throw err;
  }
}

/** True while a process with this pid exists (and is not a zombie of ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie still answers kill(0): read its state.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z /.test(stat);
  } catch {
    return false;
  }
}
