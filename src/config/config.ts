// The daemon's configuration: TOML on disk, every key with a default, unknown keys refused.
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parse as parseToml } from 'smol-toml';
import { invalidArgument } from '../errors/errors.ts';
import { parseDuration } from '../util/duration.ts';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export interface RegistryHostConfig {
  /** Endpoints tried in order before the host itself; each carries its scheme. */
  mirrors: string[];
  /** Talk plain HTTP to the host itself. */
  insecure: boolean;
}

export interface Config {
  root: string;
  state: string;
  socket: string;
  log_level: LogLevel;
  image: {
    /** A pull fails when no byte arrives for this long (ms); 0 disables. */
    pull_progress_timeout_ms: number;
    max_concurrent_downloads: number;
    /** Manifests, indexes and image configs must arrive whole within this long (ms). */
    manifest_timeout_ms: number;
    /** Bounds on one layer's unpacking; a layer crossing one fails its pull. */
    layer_max_size: number;
    layer_max_entries: number;
    layer_max_path_depth: number;
    /** PAX records, long names and xattrs of one layer entry, in bytes, in total. */
    layer_max_entry_metadata: number;
    /** Free bytes kept on the image filesystem: an unpack that would go below fails. */
    min_free_space: number;
  };
  registries: Record<string, RegistryHostConfig>;
  cni: { conf_dir: string; bin_dirs: string[] };
  /** The image of a pod's infra container, when the pod shares one PID namespace. */
  sandbox_image: string;
  /** The monitor that runs one container each and outlives the daemon. */
  conmon: string;
  /** Where relative `localhost/` seccomp profiles are (the kubelet's --seccomp-profile-root). */
  seccomp_profile_root: string;
  default_runtime: string;
  /** At start, a runc without the known container-escape fixes: log a warning, or refuse to start. */
  vulnerable_runtime: 'warn' | 'refuse';
  /** Runtime handlers by RuntimeClass name: the OCI runtime binary of each. */
  runtimes: Record<string, { binary: string }>;
  cgroup_driver: 'cgroupfs' | 'systemd';
  /** Events a GetContainerEvents client may fall behind before its stream ends with RESOURCE_EXHAUSTED. */
  container_events_buffer: number;
  /** conmon's --log-size-max (CRI-O's log_size_max): a container log that would pass this many bytes starts over; -1: no limit. */
  log_size_max: number;
  /** Prometheus metrics at http://ADDRESS/metrics; "" serves none. */
  metrics: { address: string };
  /** `berth dockershim`: the CRI on a Docker Engine (berth daemon ignores this table). */
  dockershim: {
    /** The engine's API: unix:///PATH or tcp://HOST:PORT. */
    docker_host: string;
    /** The dockershim's CRI socket. */
    socket: string;
    /** Sandbox checkpoints and CNI attachment records; must survive restarts. */
    root: string;
  };
  /** The streaming server behind Exec, Attach and PortForward. */
  streaming: {
    /** Listen address; the URLs handed out carry it. */
    address: string;
    /** 0 picks a free port. */
    port: number;
    /** PEM certificate and key; both set: HTTPS. */
    tls_cert: string;
    tls_key: string;
    /** A stream with no traffic for this long is closed (ms); 0 disables. */
    idle_timeout_ms: number;
    /** An unused streaming URL expires after this long (ms). */
    token_ttl_ms: number;
    /** Sessions served at once; more are refused with 429. */
    max_sessions: number;
    /** Bytes a session holds for a client that does not read before it stops reading from it. */
    max_buffered: number;
  };
}

export function defaultConfig(): Config {
  return {
    root: '/var/lib/berth',
    state: '/run/berth',
    socket: '/run/berth/berth.sock',
    log_level: 'info',
    image: {
      pull_progress_timeout_ms: 60_000,
      max_concurrent_downloads: 3,
      manifest_timeout_ms: 120_000,
      layer_max_size: 64 * 1024 ** 3,
      layer_max_entries: 1_000_000,
      layer_max_path_depth: 128,
      layer_max_entry_metadata: 1024 ** 2,
      min_free_space: 256 * 1024 ** 2,
    },
    registries: {},
    cni: { conf_dir: '/etc/cni/net.d', bin_dirs: ['/usr/lib/cni', '/opt/cni/bin'] },
    sandbox_image: 'registry.k8s.io/pause:3.9',
    conmon: '/usr/bin/conmon',
    seccomp_profile_root: '/var/lib/kubelet/seccomp',
    default_runtime: 'runc',
    vulnerable_runtime: 'warn',
    runtimes: { runc: { binary: '/usr/sbin/runc' }, crun: { binary: '/usr/bin/crun' } },
    cgroup_driver: 'cgroupfs',
    container_events_buffer: 1000,
    log_size_max: -1,
    metrics: { address: '' },
    dockershim: { docker_host: 'unix:///var/run/docker.sock', socket: '/run/berth/dockershim.sock', root: '/var/lib/berth/dockershim' },
    streaming: {
      address: '127.0.0.1',
      port: 0,
      tls_cert: '',
      tls_key: '',
      idle_timeout_ms: 4 * 3_600_000,
      token_ttl_ms: 60_000,
      max_sessions: 256,
      max_buffered: 1024 * 1024,
    },
  };
}

const LOG_LEVELS: LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

type Table = Record<string, unknown>;

class Reader {
  readonly source: string;
  constructor(source: string) {
    this.source = source;
  }
  fail(key: string, problem: string): never {
    throw invalidArgument('bad-config', `${this.source}: ${key}: ${problem}`, { fields: { key } });
  }
  table(value: unknown, key: string): Table {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(key, 'must be a table');
    return value as Table;
  }
  known(table: Table, prefix: string, keys: string[]): void {
    for (const k of Object.keys(table)) {
      if (!keys.includes(k)) this.fail(prefix ? `${prefix}.${k}` : k, `unknown key (known: ${keys.join(', ')})`);
    }
  }
  absPath(value: unknown, key: string): string {
    if (typeof value !== 'string' || !value.startsWith('/')) this.fail(key, 'must be an absolute path');
    return value.replace(/\/+$/, '') || '/';
  }
  pathList(value: unknown, key: string): string[] {
    if (!Array.isArray(value)) this.fail(key, 'must be a list of absolute paths');
    return value.map((v, i) => this.absPath(v, `${key}[${i}]`));
  }
  duration(value: unknown, key: string): number {
    const ms = typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms === undefined) this.fail(key, `must be a duration such as "30s" or "1m", got ${JSON.stringify(value)}`);
    return ms;
  }
  positiveInt(value: unknown, key: string): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) this.fail(key, 'must be a positive integer');
    return value;
  }
  /** Bytes: an integer or a string such as "512MiB", "64GiB", "1GB". */
  size(value: unknown, key: string): number {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
    const m = typeof value === 'string' ? /^(\d+)\s*(B|[KMGT]i?B)?$/.exec(value.trim()) : null;
    if (m === null) this.fail(key, `must be a size such as 1048576, "512MiB" or "64GiB", got ${JSON.stringify(value)}`);
    const unit = m[2] ?? 'B';
    const base = unit.includes('i') ? 1024 : 1000;
    const power = unit === 'B' ? 0 : 'KMGT'.indexOf(unit[0]!) + 1;
    const n = Number(m[1]) * base ** power;
    if (!Number.isSafeInteger(n)) this.fail(key, 'is too large');
    return n;
  }
  bool(value: unknown, key: string): boolean {
    if (typeof value !== 'boolean') this.fail(key, 'must be true or false');
    return value;
  }
  url(value: unknown, key: string): string {
    if (typeof value !== 'string') this.fail(key, 'must be a URL string');
    let u: URL;
    try {
      u = new URL(value);
    } catch {
      this.fail(key, `invalid URL ${JSON.stringify(value)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') this.fail(key, `must be http:// or https://, got ${value}`);
    if (u.pathname !== '/' && u.pathname !== '') this.fail(key, `must not have a path, got ${value}`);
    return `${u.protocol}//${u.host}`;
  }
}

/** Validates a parsed TOML document over the defaults. */
export function configFromObject(doc: Table, source = 'config'): Config {
  const r = new Reader(source);
  const c = defaultConfig();
  r.known(doc, '', [
    'root',
    'state',
    'socket',
    'log_level',
    'image',
    'registries',
    'cni',
    'sandbox_image',
    'conmon',
    'seccomp_profile_root',
    'default_runtime',
    'vulnerable_runtime',
    'runtimes',
    'cgroup_driver',
    'container_events_buffer',
    'log_size_max',
    'streaming',
    'metrics',
    'dockershim',
  ]);
  if ('sandbox_image' in doc) {
    if (typeof doc.sandbox_image !== 'string' || doc.sandbox_image === '') r.fail('sandbox_image', 'must be an image reference');
    c.sandbox_image = doc.sandbox_image as string;
  }
  if ('container_events_buffer' in doc) c.container_events_buffer = r.positiveInt(doc.container_events_buffer, 'container_events_buffer');
  if ('log_size_max' in doc) {
    const v = doc.log_size_max;
    // conmon cannot keep a record of its own buffer size below 8 KiB, so CRI-O refuses smaller limits too.
    if (typeof v !== 'number' || !Number.isInteger(v) || (v !== -1 && v < 8192))
      r.fail('log_size_max', 'must be -1 (no limit) or at least 8192 bytes');
    c.log_size_max = v as number;
  }
  if ('conmon' in doc) c.conmon = r.absPath(doc.conmon, 'conmon');
  if ('seccomp_profile_root' in doc) c.seccomp_profile_root = r.absPath(doc.seccomp_profile_root, 'seccomp_profile_root');
  if ('vulnerable_runtime' in doc) {
    if (doc.vulnerable_runtime !== 'warn' && doc.vulnerable_runtime !== 'refuse')
      r.fail('vulnerable_runtime', 'must be "warn" or "refuse"');
    c.vulnerable_runtime = doc.vulnerable_runtime as Config['vulnerable_runtime'];
  }
  if ('cgroup_driver' in doc) {
    if (doc.cgroup_driver !== 'cgroupfs' && doc.cgroup_driver !== 'systemd') r.fail('cgroup_driver', 'must be "cgroupfs" or "systemd"');
    c.cgroup_driver = doc.cgroup_driver as Config['cgroup_driver'];
  }
  if ('runtimes' in doc) {
    const t = r.table(doc.runtimes, 'runtimes');
    for (const [name, value] of Object.entries(t)) {
      const key = `runtimes.${name}`;
      if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) r.fail(key, 'a runtime handler name is lower-case letters, digits, "-" and "."');
      const rt = r.table(value, key);
      r.known(rt, key, ['binary']);
      c.runtimes[name] = { binary: r.absPath(rt.binary, `${key}.binary`) };
    }
  }
  if ('default_runtime' in doc) {
    if (typeof doc.default_runtime !== 'string') r.fail('default_runtime', 'must be a runtime handler name');
    c.default_runtime = doc.default_runtime as string;
  }
  if (!(c.default_runtime in c.runtimes))
    r.fail('default_runtime', `"${c.default_runtime}" is not one of the runtimes (${Object.keys(c.runtimes).join(', ')})`);
  if ('root' in doc) c.root = r.absPath(doc.root, 'root');
  if ('state' in doc) c.state = r.absPath(doc.state, 'state');
  if ('socket' in doc) c.socket = r.absPath(doc.socket, 'socket');
  if ('log_level' in doc) {
    const level = doc.log_level as LogLevel;
    if (!LOG_LEVELS.includes(level)) r.fail('log_level', `must be one of ${LOG_LEVELS.join(', ')}`);
    c.log_level = level;
  }
  if ('image' in doc) {
    const t = r.table(doc.image, 'image');
    r.known(t, 'image', [
      'pull_progress_timeout',
      'max_concurrent_downloads',
      'manifest_timeout',
      'layer_max_size',
      'layer_max_entries',
      'layer_max_path_depth',
      'layer_max_entry_metadata',
      'min_free_space',
    ]);
    if ('manifest_timeout' in t) {
      c.image.manifest_timeout_ms = r.duration(t.manifest_timeout, 'image.manifest_timeout');
      if (c.image.manifest_timeout_ms <= 0) r.fail('image.manifest_timeout', 'must be longer than 0');
    }
    for (const key of ['layer_max_size', 'layer_max_entry_metadata', 'min_free_space'] as const) {
      if (key in t) c.image[key] = r.size(t[key], `image.${key}`);
    }
    for (const key of ['layer_max_entries', 'layer_max_path_depth'] as const) {
      if (key in t) c.image[key] = r.positiveInt(t[key], `image.${key}`);
    }
    if ('pull_progress_timeout' in t) c.image.pull_progress_timeout_ms = r.duration(t.pull_progress_timeout, 'image.pull_progress_timeout');
    if ('max_concurrent_downloads' in t)
      c.image.max_concurrent_downloads = r.positiveInt(t.max_concurrent_downloads, 'image.max_concurrent_downloads');
  }
  if ('registries' in doc) {
    const regs = r.table(doc.registries, 'registries');
    for (const [host, value] of Object.entries(regs)) {
      const key = `registries."${host}"`;
      if (!/^[a-zA-Z0-9.-]+(:\d+)?$/.test(host)) r.fail(key, 'must be a registry host such as "registry.k8s.io" or "127.0.0.1:5000"');
      const t = r.table(value, key);
      r.known(t, key, ['mirrors', 'insecure']);
      const mirrors = 'mirrors' in t ? (Array.isArray(t.mirrors) ? t.mirrors : r.fail(`${key}.mirrors`, 'must be a list of URLs')) : [];
      c.registries[host] = {
        mirrors: mirrors.map((m, i) => r.url(m, `${key}.mirrors[${i}]`)),
        insecure: 'insecure' in t ? r.bool(t.insecure, `${key}.insecure`) : false,
      };
    }
  }
  if ('cni' in doc) {
    const t = r.table(doc.cni, 'cni');
    r.known(t, 'cni', ['conf_dir', 'bin_dirs']);
    if ('conf_dir' in t) c.cni.conf_dir = r.absPath(t.conf_dir, 'cni.conf_dir');
    if ('bin_dirs' in t) c.cni.bin_dirs = r.pathList(t.bin_dirs, 'cni.bin_dirs');
  }
  if ('metrics' in doc) {
    const t = r.table(doc.metrics, 'metrics');
    r.known(t, 'metrics', ['address']);
    if ('address' in t) {
      const a = t.address;
      if (typeof a !== 'string' || (a !== '' && !/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(a)))
        r.fail('metrics.address', 'must be "" (off) or host:port, such as "127.0.0.1:1338"');
      c.metrics.address = a as string;
    }
  }
  if ('dockershim' in doc) {
    const t = r.table(doc.dockershim, 'dockershim');
    r.known(t, 'dockershim', ['docker_host', 'socket', 'root']);
    if ('docker_host' in t) {
      const h = t.docker_host;
      if (typeof h !== 'string' || !/^(unix:\/\/\/.+|tcp:\/\/[^/]+:\d{1,5})$/.test(h))
        r.fail('dockershim.docker_host', 'must be unix:///PATH or tcp://HOST:PORT');
      c.dockershim.docker_host = h as string;
    }
    if ('socket' in t) c.dockershim.socket = r.absPath(t.socket, 'dockershim.socket');
    if ('root' in t) c.dockershim.root = r.absPath(t.root, 'dockershim.root');
  }
  if ('streaming' in doc) {
    const t = r.table(doc.streaming, 'streaming');
    r.known(t, 'streaming', ['address', 'port', 'tls_cert', 'tls_key', 'idle_timeout', 'token_ttl', 'max_sessions', 'max_buffered']);
    if ('address' in t) {
      const a = t.address;
      if (typeof a !== 'string' || (isIP(a) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(a))) {
        r.fail('streaming.address', 'must be an IP address or a host name');
      }
      c.streaming.address = a as string;
    }
    if ('port' in t) {
      const port = t.port;
      if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535)
        r.fail('streaming.port', 'must be a port number 0-65535 (0: any free port)');
      c.streaming.port = port as number;
    }
    for (const key of ['tls_cert', 'tls_key'] as const) {
      if (key in t) c.streaming[key] = t[key] === '' ? '' : r.absPath(t[key], `streaming.${key}`);
    }
    if ((c.streaming.tls_cert === '') !== (c.streaming.tls_key === ''))
      r.fail('streaming.tls_cert', 'tls_cert and tls_key go together: set both or neither');
    if ('idle_timeout' in t) c.streaming.idle_timeout_ms = r.duration(t.idle_timeout, 'streaming.idle_timeout');
    if ('token_ttl' in t) {
      c.streaming.token_ttl_ms = r.duration(t.token_ttl, 'streaming.token_ttl');
      if (c.streaming.token_ttl_ms <= 0) r.fail('streaming.token_ttl', 'must be longer than 0');
    }
    if ('max_sessions' in t) c.streaming.max_sessions = r.positiveInt(t.max_sessions, 'streaming.max_sessions');
    if ('max_buffered' in t) {
      c.streaming.max_buffered = r.size(t.max_buffered, 'streaming.max_buffered');
      if (c.streaming.max_buffered < 64 * 1024) r.fail('streaming.max_buffered', 'must be at least 64KiB');
    }
  }
  return c;
}

export function parseConfig(text: string, source = 'config'): Config {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (e) {
    throw invalidArgument('bad-config', `${source}: not valid TOML: ${(e as Error).message}`, { cause: e });
  }
  return configFromObject(doc, source);
}

/** Reads FILE; with no file given, the defaults. */
export async function loadConfig(file: string | undefined): Promise<Config> {
  if (file === undefined) return defaultConfig();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw invalidArgument('bad-config', `cannot read config file ${file}: ${(e as Error).message}`, { cause: e });
  }
  return parseConfig(text, file);
}
