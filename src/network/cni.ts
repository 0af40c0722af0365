// Runs CNI plugins for a network configuration list, as the CNI spec (SPEC.md, "Network
// Configuration Lists") and libcni do: ADD in order with each plugin's result handed to the next as
// `prevResult`, DEL in reverse with the cached ADD result, CHECK in order with the cached result.
//
// The attachment cache. Before the first plugin of an ADD runs, a record goes to
// <cacheDir>/<network>-<containerId>-<ifName>.json with everything DEL needs: the configuration
// list as it was, CNI_ARGS, the runtimeConfig (portmap can remove its rules only when DEL gets the
// same portMappings) and the netns; after every plugin the latest result is added. So a DEL after
// a daemon restart, a configuration change, or a crash half-way through an ADD still undoes what
// was done (firewall, for one, removes its rules only for the IPs in prevResult). No record means
// no plugin ever ran for that attachment.
import { constants } from 'node:fs';
import { access, mkdir, readdir, readFile, rm, statfs } from 'node:fs/promises';
import path from 'node:path';
import { BerthError, type ErrorKind, failedPrecondition, internal, invalidArgument, notFound, toBerthError } from '../errors/errors.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { type CniNetworkConfList, type CniPluginConf, parseNetworkConfig } from './cni-config.ts';
import { type CniResult, parseCniResult } from './cni-result.ts';
import { helperEnv, lastLine, type RunResult, runCommand } from './run-command.ts';

export type { CniResult } from './cni-result.ts';

/** A `portMappings` capability entry (CONVENTIONS.md). */
export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  hostIP?: string;
}

/** The `bandwidth` capability: rates in bits per second, bursts in bits. */
export interface CniBandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}

/** One entry of the `ipRanges` capability (a list of range sets). */
export interface CniIpRange {
  subnet: string;
  rangeStart?: string;
  rangeEnd?: string;
  gateway?: string;
}

/** The `dns` capability. */
export interface CniDnsCapability {
  servers?: string[];
  searches?: string[];
  options?: string[];
}

/** Capability arguments; each goes only to plugins that declare it in `capabilities`. */
export interface CniRuntimeConfig {
  portMappings?: CniPortMapping[];
  bandwidth?: CniBandwidth;
  ipRanges?: CniIpRange[][];
  dns?: CniDnsCapability;
}

/** One container's attachment to one network. */
export interface CniAttachment {
  containerId: string;
  /** The network namespace path. For DEL it may be gone: plugins then get an empty CNI_NETNS. */
  netns: string;
  /** CNI_IFNAME, default `eth0`. */
  ifName?: string;
  /** CNI_ARGS pairs; `IgnoreUnknown=1` is always put first. */
  args?: readonly (readonly [string, string])[];
  runtimeConfig?: CniRuntimeConfig;
}

export interface CniOptions {
  /** Directories searched, in order, for plugin binaries; also CNI_PATH. */
  binDirs: readonly string[];
  /** Where attachment records are kept (survives daemon restarts; e.g. <state>/cni). */
  cacheDir: string;
}

/** What the cache keeps per attachment. */
export interface CniCacheRecord {
  kind: 'berthCniAttachmentV1';
  networkName: string;
  containerId: string;
  ifName: string;
  netns: string;
  args: [string, string][];
  runtimeConfig: CniRuntimeConfig;
  /** The configuration list used for the ADD. */
  config: Record<string, unknown>;
  /** The last result the ADD got (the final one when `complete`). */
  result: Record<string, unknown> | null;
  /** True once every plugin's ADD succeeded. */
  complete: boolean;
}

const DEFAULT_IFNAME = 'eth0';
/** SPEC.md: network names and container IDs start with an alphanumeric, then alphanumerics, `_`, `.`, `-`. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;
const NSFS_MAGIC = 0x6e736673;
/** Plugins print a result, or an error object: a megabyte is plenty. */
const MAX_PLUGIN_OUTPUT = 1 << 20;

type Command = 'ADD' | 'DEL' | 'CHECK';

/** True when semantic version `v` is at least `min` (CHECK needs 0.4.0, chaining 0.3.0). */
export function cniVersionAtLeast(v: string, min: string): boolean {
  const parse = (s: string): number[] => s.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const a = parse(v);
  const b = parse(min);
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0);
  }
  return true;
}

function ifNameOf(att: CniAttachment): string {
  return att.ifName ?? DEFAULT_IFNAME;
}

function checkAttachment(networkName: string, att: CniAttachment): void {
  const fields = { network: networkName, containerId: att.containerId, ifName: ifNameOf(att) };
  if (!NAME.test(networkName)) throw invalidArgument('cni-network-name-invalid', `invalid CNI network name "${networkName}"`, { fields });
  if (!NAME.test(att.containerId)) {
    throw invalidArgument('cni-container-id-invalid', `invalid CNI container id "${att.containerId}"`, { fields });
  }
  if (!IFNAME.test(ifNameOf(att))) throw invalidArgument('cni-ifname-invalid', `invalid interface name "${ifNameOf(att)}"`, { fields });
  for (const [k, v] of att.args ?? []) {
    if (!/^[A-Za-z0-9_]+$/.test(k) || /[;=\0\n]/.test(v)) {
      throw invalidArgument('cni-args-invalid', `CNI_ARGS ${k}=${v}: keys are word characters, values have no ';' or '='`, { fields });
    }
  }
}

function cniArgs(args: readonly (readonly [string, string])[]): string {
  return [['IgnoreUnknown', '1'], ...args.filter(([k]) => k !== 'IgnoreUnknown')].map(([k, v]) => `${k}=${v}`).join(';');
}

function cacheFile(options: CniOptions, networkName: string, containerId: string, ifName: string): string {
  return path.join(options.cacheDir, `${networkName}-${containerId}-${ifName}.json`);
}

/** The attachment record for (network, container, interface), or undefined when there is none (or it is unreadable). */
export async function readCachedAttachment(
  options: CniOptions,
  networkName: string,
  containerId: string,
  ifName = DEFAULT_IFNAME,
): Promise<CniCacheRecord | undefined> {
  return readRecord(cacheFile(options, networkName, containerId, ifName));
}

async function readRecord(file: string): Promise<CniCacheRecord | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const rec = JSON.parse(text) as CniCacheRecord;
    return rec.kind === 'berthCniAttachmentV1' && typeof rec.config === 'object' ? rec : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The attachment records of a container, whatever the network (after a configuration change there
 * may be an old one); of every container without `containerId` (for reconciling after a restart).
 */
export async function listCachedAttachments(options: CniOptions, containerId?: string): Promise<CniCacheRecord[]> {
  let names: string[];
  try {
    names = await readdir(options.cacheDir);
  } catch {
    return [];
  }
  const out: CniCacheRecord[] = [];
  for (const name of names.filter((n) => n.endsWith('.json') && (containerId === undefined || n.includes(`-${containerId}-`)))) {
    const rec = await readRecord(path.join(options.cacheDir, name));
    if (rec !== undefined && (containerId === undefined || rec.containerId === containerId)) out.push(rec);
  }
  return out;
}

async function writeRecord(options: CniOptions, rec: CniCacheRecord): Promise<void> {
  await mkdir(options.cacheDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(cacheFile(options, rec.networkName, rec.containerId, rec.ifName), JSON.stringify(rec), 0o600);
}

async function findPlugin(options: CniOptions, net: CniNetworkConfList, type: string): Promise<string> {
  if (!NAME.test(type)) {
    throw failedPrecondition('cni-config-invalid', `network "${net.name}": invalid plugin type "${type}"`, {
      fields: { network: net.name },
    });
  }
  for (const dir of options.binDirs) {
    const file = path.join(dir, type);
    try {
      await access(file, constants.X_OK);
      return file;
    } catch {}
  }
  throw failedPrecondition('cni-plugin-missing', `CNI plugin "${type}" of network "${net.name}" is not in ${options.binDirs.join(', ')}`, {
    fields: { plugin: type, network: net.name, binDirs: options.binDirs },
  });
}

/** The configuration one plugin gets on stdin (SPEC.md: name and cniVersion from the list, capabilities, prevResult). */
function pluginConfig(
  net: CniNetworkConfList,
  plugin: CniPluginConf,
  runtimeConfig: CniRuntimeConfig,
  prevResult: Record<string, unknown> | null,
): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: net.cniVersion, name: net.name };
  const caps = plugin.capabilities;
  if (typeof caps === 'object' && caps !== null) {
    const rc: Record<string, unknown> = {};
    for (const [cap, on] of Object.entries(caps as Record<string, unknown>)) {
      const value = (runtimeConfig as Record<string, unknown>)[cap];
      if (on === true && value !== undefined) rc[cap] = value;
    }
    if (Object.keys(rc).length > 0) {
      const existing = typeof plugin.runtimeConfig === 'object' && plugin.runtimeConfig !== null ? plugin.runtimeConfig : {};
      conf.runtimeConfig = { ...existing, ...rc };
    }
  }
  if (prevResult !== null) conf.prevResult = prevResult;
  return conf;
}

interface Invocation {
  command: Command;
  net: CniNetworkConfList;
  plugin: CniPluginConf;
  containerId: string;
  netns: string;
  ifName: string;
  args: string;
  config: Record<string, unknown>;
  signal: AbortSignal | undefined;
}

function envFor(options: CniOptions, inv: Invocation): NodeJS.ProcessEnv {
  const env = helperEnv();
  for (const k of Object.keys(env)) if (k.startsWith('CNI_')) delete env[k];
  return {
    ...env,
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifName,
    CNI_ARGS: inv.args,
    CNI_PATH: options.binDirs.join(':'),
  };
}

/** Runs one plugin; returns its parsed stdout for ADD (null when it printed nothing). */
async function invoke(options: CniOptions, inv: Invocation): Promise<Record<string, unknown> | null> {
  const file = await findPlugin(options, inv.net, inv.plugin.type);
  let r: RunResult;
  try {
    r = await runCommand(file, [], {
      input: JSON.stringify(inv.config),
      env: envFor(options, inv),
      signal: inv.signal,
      maxOutput: MAX_PLUGIN_OUTPUT,
    });
  } catch (e) {
    const err = toBerthError(e);
    const what =
      err.kind === 'deadline-exceeded' ? 'timed out' : err.kind === 'cancelled' ? 'was cancelled' : `could not start: ${err.message}`;
    throw new BerthError(
      err.kind === 'deadline-exceeded' || err.kind === 'cancelled' ? err.kind : 'internal',
      err.kind === 'deadline-exceeded' ? 'cni-timeout' : err.kind === 'cancelled' ? 'cancelled' : 'cni-plugin-failed',
      `CNI plugin "${inv.plugin.type}" ${what} on ${inv.command} for network "${inv.net.name}"`,
      { cause: e, fields: { plugin: inv.plugin.type, command: inv.command, network: inv.net.name, containerId: inv.containerId } },
    );
  }
  if (r.code !== 0) throw pluginError(inv, r);
  if (inv.command !== 'ADD') return null;
  const out = r.stdout.trim();
  if (out === '') return null;
  try {
    const parsed = JSON.parse(out) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw internal('cni-result-invalid', 'not an object');
    return parsed as Record<string, unknown>;
  } catch (e) {
    throw internal(
      'cni-result-invalid',
      `CNI plugin "${inv.plugin.type}" printed an unreadable result on ADD for network "${inv.net.name}"`,
      {
        cause: e,
        fields: { plugin: inv.plugin.type, network: inv.net.name, stdout: out.slice(0, 4096) },
      },
    );
  }
}

/**
 * The error kind for a CNI error code (SPEC.md "Well-known error codes"). The kubelet retries a
 * failed RunPodSandbox whatever the gRPC code, so the kind is for people and other clients:
 * 11 "try again later" is the one transient code (unavailable); 1, 2, 4, 6, 7 (version, field,
 * environment, decoding, configuration) do not get better by retrying until someone fixes the node's
 * network configuration (failed-precondition); anything else, 5 (I/O) and plugin-specific codes
 * (100+, 999 for a plain Go error) included, is a failure in the system underneath (internal).
 */
export function kindForCniCode(code: number | undefined): ErrorKind {
  if (code === 11) return 'unavailable';
  if (code === 1 || code === 2 || code === 4 || code === 6 || code === 7) return 'failed-precondition';
  return 'internal';
}

function pluginError(inv: Invocation, r: RunResult): BerthError {
  let cniCode: number | undefined;
  let msg = '';
  let details = '';
  try {
    const o = JSON.parse(r.stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof o.code === 'number') cniCode = o.code;
    if (typeof o.msg === 'string') msg = o.msg;
    if (typeof o.details === 'string') details = o.details;
  } catch {}
  if (msg === '') msg = lastLine(r.stderr) || lastLine(r.stdout) || (r.exitSignal ? `killed by ${r.exitSignal}` : `exit code ${r.code}`);
  const text = details !== '' && details !== msg ? `${msg}: ${details}` : msg;
  return new BerthError(
    kindForCniCode(cniCode),
    'cni-plugin-failed',
    `CNI plugin "${inv.plugin.type}" failed on ${inv.command} for network "${inv.net.name}": ${text}`,
    {
      fields: {
        plugin: inv.plugin.type,
        command: inv.command,
        network: inv.net.name,
        containerId: inv.containerId,
        cniCode,
        cniMessage: msg,
        cniDetails: details || undefined,
        exitCode: r.code,
        stderr: r.stderr.slice(-4096) || undefined,
      },
    },
  );
}

/**
 * ADD: runs every plugin of `net` in order, each with the previous one's result as `prevResult`
 * and the capabilities it declares from `att.runtimeConfig`. Returns the last result. On failure
 * the error names the plugin, and the cache keeps what was done so far: the caller must DEL
 * (delNetworkList) to undo it, as the spec asks of runtimes.
 */
export async function addNetworkList(
  options: CniOptions,
  net: CniNetworkConfList,
  att: CniAttachment,
  signal?: AbortSignal,
): Promise<CniResult> {
  checkAttachment(net.name, att);
  const ifName = ifNameOf(att);
  const args = (att.args ?? []).map(([k, v]) => [k, v] as [string, string]);
  const rec: CniCacheRecord = {
    kind: 'berthCniAttachmentV1',
    networkName: net.name,
    containerId: att.containerId,
    ifName,
    netns: att.netns,
    args,
    runtimeConfig: att.runtimeConfig ?? {},
    config: net.raw,
    result: null,
    complete: false,
  };
  if (signal?.aborted) throw toBerthError(signal.reason);
  await writeRecord(options, rec);
  let prev: Record<string, unknown> | null = null;
  for (const [i, plugin] of net.plugins.entries()) {
    const chained = cniVersionAtLeast(net.cniVersion, '0.3.0') ? prev : null;
    const out = await invoke(options, {
      command: 'ADD',
      net,
      plugin,
      containerId: att.containerId,
      netns: att.netns,
      ifName,
      args: cniArgs(args),
      config: pluginConfig(net, plugin, rec.runtimeConfig, chained),
      signal,
    });
    if (out !== null) {
      prev = out;
      rec.result = out;
      // The last plugin's result is written once, below, as complete.
      if (i < net.plugins.length - 1) await writeRecord(options, rec);
    }
  }
  if (prev === null) {
    throw internal('cni-result-missing', `no plugin of network "${net.name}" printed a result on ADD`, { fields: { network: net.name } });
  }
  rec.complete = true;
  await writeRecord(options, rec);
  return parseCniResult(prev);
}

/** The netns to hand to DEL: the path while it is a namespace, else '' (plugins then skip what is inside it). */
async function liveNetns(p: string): Promise<string> {
  if (p === '') return '';
  try {
    return (await statfs(p)).type === NSFS_MAGIC ? p : '';
  } catch {
    return '';
  }
}

export interface DelOptions {
  /** Bounds the whole DEL; default 60 s. Not the request's signal: cleanup runs even when a request was cancelled. */
  timeoutMs?: number;
  /** Only for stopping cleanup itself (daemon shutdown). */
  signal?: AbortSignal;
}

const DEFAULT_DEL_TIMEOUT_MS = 60_000;

/**
 * DEL: runs the plugins in reverse order with the cached ADD result as `prevResult` (0.4.0 and
 * later), the same CNI_ARGS and runtimeConfig as the ADD, and CNI_NETNS empty when the namespace is
 * gone. The configuration is the cached one when there is a record (what was added is what gets
 * removed, even after the configuration changed), else `net`. With neither, there is nothing to do.
 * The first failing plugin stops the list (SPEC.md) and keeps the record, so a retry can finish;
 * success deletes the record. Plugins tolerate DEL of what is missing, so DEL may be repeated.
 */
export async function delNetworkList(
  options: CniOptions,
  net: CniNetworkConfList | undefined,
  att: CniAttachment,
  delOptions: DelOptions = {},
): Promise<void> {
  const ifName = ifNameOf(att);
  const rec = net !== undefined ? await readCachedAttachment(options, net.name, att.containerId, ifName) : undefined;
  await delWith(options, rec, net, att, delOptions);
}

/**
 * DEL for one cached record (see delNetworkList): what the ADD used, with `netns` overriding the
 * recorded namespace path when given.
 */
export async function delCachedAttachment(
  options: CniOptions,
  rec: CniCacheRecord,
  netns?: string,
  delOptions: DelOptions = {},
): Promise<void> {
  await delWith(options, rec, undefined, { containerId: rec.containerId, netns: netns ?? rec.netns, ifName: rec.ifName }, delOptions);
}

async function delWith(
  options: CniOptions,
  rec: CniCacheRecord | undefined,
  net: CniNetworkConfList | undefined,
  att: CniAttachment,
  delOptions: DelOptions,
): Promise<void> {
  let list = net;
  if (rec !== undefined) {
    try {
      list = parseNetworkConfig(rec.config, `cache:${rec.networkName}`);
    } catch {
      // A cached configuration that does not parse: fall back to the current one.
    }
  }
  if (list === undefined) {
    if (rec === undefined) return;
    throw internal('cni-cache-invalid', `the cached configuration of network "${rec.networkName}" is unreadable`, {
      fields: { network: rec.networkName, containerId: rec.containerId },
    });
  }
  checkAttachment(list.name, att);
  const ifName = ifNameOf(att);
  const args = (rec?.args ?? att.args ?? []).map(([k, v]) => [k, v] as [string, string]);
  const runtimeConfig = rec?.runtimeConfig ?? att.runtimeConfig ?? {};
  const prev = cniVersionAtLeast(list.cniVersion, '0.4.0') ? (rec?.result ?? null) : null;
  const netns = await liveNetns(att.netns !== '' ? att.netns : (rec?.netns ?? ''));
  const timeout = AbortSignal.timeout(delOptions.timeoutMs ?? DEFAULT_DEL_TIMEOUT_MS);
  const signal = delOptions.signal ? AbortSignal.any([timeout, delOptions.signal]) : timeout;
  for (const plugin of [...list.plugins].reverse()) {
    await invoke(options, {
      command: 'DEL',
      net: list,
      plugin,
      containerId: att.containerId,
      netns,
      ifName,
      args: cniArgs(args),
      config: pluginConfig(list, plugin, runtimeConfig, prev),
      signal,
    });
  }
  await rm(cacheFile(options, list.name, att.containerId, ifName), { force: true });
}

/**
 * CHECK: runs the plugins in order with the cached ADD result. A no-op for lists older than 0.4.0
 * or with `disableCheck` (SPEC.md). Throws not-found `cni-attachment-not-found` without a complete
 * ADD on record, else the first plugin's error.
 */
export async function checkNetworkList(
  options: CniOptions,
  net: CniNetworkConfList,
  att: CniAttachment,
  signal?: AbortSignal,
): Promise<void> {
  checkAttachment(net.name, att);
  const disabled = net.raw.disableCheck === true || net.raw.disableCheck === 'true';
  if (!cniVersionAtLeast(net.cniVersion, '0.4.0') || disabled) return;
  const ifName = ifNameOf(att);
  const rec = await readCachedAttachment(options, net.name, att.containerId, ifName);
  if (rec === undefined || !rec.complete || rec.result === null) {
    throw notFound('cni-attachment-not-found', `container ${att.containerId} has no attachment to network "${net.name}" on record`, {
      fields: { network: net.name, containerId: att.containerId, ifName },
    });
  }
  for (const plugin of net.plugins) {
    await invoke(options, {
      command: 'CHECK',
      net,
      plugin,
      containerId: att.containerId,
      netns: att.netns,
      ifName,
      args: cniArgs(rec.args),
      config: pluginConfig(net, plugin, rec.runtimeConfig, rec.result),
      signal,
    });
  }
}
