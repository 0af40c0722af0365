// What the pod and container commands share: a CRI connection for one command, ID prefixes
// resolved on the client (so they work against any runtime, not only those that resolve them),
// errors worded as crictl words them, and flag parsing where a command's own short flags (-t, -i)
// are also global ones.
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { type CriClient, connectCri } from '../cri/cri-client.ts';
import { BerthError, invalidArgument, toBerthError } from '../errors/errors.ts';
import { type Endpoints, endpointsFrom, GLOBAL_OPTIONS } from './command.ts';

export async function withCri<T>(endpoints: Endpoints, body: (cri: CriClient) => Promise<T>): Promise<T> {
  const cri = connectCri(endpoints.runtime, endpoints.image);
  try {
    return await body(cri);
  } finally {
    cri.close();
  }
}

/** The error with `context: ` in front of its message, same kind and code. */
export function withContext(e: unknown, context: string): BerthError {
  const err = toBerthError(e);
  return new BerthError(err.kind, err.code, `${context}: ${err.message}`, { cause: err, fields: err.fields });
}

const FULL_ID = /^[0-9a-f]{64}$/;

/**
 * The ID that `prefix` names among `ids`: itself when it is one of them, else the only ID that
 * starts with it. Several matches are an error; no match gives the text back unchanged, so that
 * the runtime answers NotFound in its own words (or resolves what it knows better).
 */
export function resolvePrefix(prefix: string, ids: readonly string[], what: string): string {
  if (prefix === '' || ids.includes(prefix)) return prefix;
  const matches = ids.filter((id) => id.startsWith(prefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length > 1) {
    throw invalidArgument(
      'ambiguous-id',
      `${what} ID prefix "${prefix}" is ambiguous: it matches ${matches.map((m) => m.slice(0, 13)).join(', ')}`,
      {
        fields: { prefix, matches },
      },
    );
  }
  return prefix;
}

async function resolveAll(args: string[], list: () => Promise<string[]>, what: string): Promise<string[]> {
  if (args.every((a) => FULL_ID.test(a))) return args;
  const ids = await list();
  return args.map((a) => resolvePrefix(a, ids, what));
}

export function resolveContainerIds(cri: CriClient, args: string[], timeoutMs: number): Promise<string[]> {
  return resolveAll(args, async () => (await cri.runtime.listContainers({}, { timeoutMs })).containers.map((c) => c.id), 'container');
}

export function resolvePodIds(cri: CriClient, args: string[], timeoutMs: number): Promise<string[]> {
  return resolveAll(args, async () => (await cri.runtime.listPodSandbox({}, { timeoutMs })).items.map((p) => p.id), 'pod sandbox');
}

/** `--label k=v` flags as a map (the value may hold '='). */
export function parseLabels(flags: string[] | undefined): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const flag of flags ?? []) {
    const i = flag.indexOf('=');
    if (i <= 0) throw invalidArgument('bad-flag', `incorrectly specified label: ${flag} (expected key=value)`);
    labels[flag.slice(0, i)] = flag.slice(i + 1);
  }
  return labels;
}

/** An integer flag (crictl's Int64Flag). */
export function intFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw invalidArgument('bad-flag', `--${name}: expected an integer, got "${value}"`);
  return Number(value);
}

const VALUE_FLAGS = new Set(['-r', '--runtime-endpoint', '-i', '--image-endpoint', '-t', '--timeout']);

function sameTokens(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * berth's entry point hands a command the global flags written before its name *after* its own
 * arguments (`berth -t 5s stop -t 3 ID` reaches `stop` as `-t 3 ID -t 5s`). For commands whose own
 * flags reuse a global letter, or that take a command line of their own (exec), this tells the two
 * apart again by comparing with the process's arguments: { globals, own }.
 */
export function splitLeadingGlobals(
  argv: readonly string[],
  names: readonly string[],
  processArgv: readonly string[] = process.argv.slice(2),
): { globals: string[]; own: string[] } {
  // The leading flags as main.ts collects them.
  let i = 0;
  while (i < processArgv.length && processArgv[i]!.startsWith('-')) {
    if (VALUE_FLAGS.has(processArgv[i]!) && i + 1 < processArgv.length) i++;
    i++;
  }
  const leading = processArgv.slice(0, i);
  const rest = processArgv.slice(i + 1);
  if (
    leading.length > 0 &&
    names.includes(processArgv[i] ?? '') &&
    sameTokens(argv.slice(0, argv.length - leading.length), rest) &&
    sameTokens(argv.slice(argv.length - leading.length), leading)
  ) {
    return { globals: [...leading], own: argv.slice(0, argv.length - leading.length) };
  }
  return { globals: [], own: [...argv] };
}

/** The endpoints from global flags given apart from a command's own flags (see splitLeadingGlobals). */
export function endpointsFromGlobals(globals: string[], fallback: { 'runtime-endpoint'?: string; 'image-endpoint'?: string }): Endpoints {
  let values: { 'runtime-endpoint'?: string; 'image-endpoint'?: string; timeout?: string };
  try {
    values = parseArgs({ args: globals, options: GLOBAL_OPTIONS, allowPositionals: false, strict: true }).values;
  } catch (e) {
    throw invalidArgument('bad-flag', (e as Error).message);
  }
  const own = { 'runtime-endpoint': fallback['runtime-endpoint'], 'image-endpoint': fallback['image-endpoint'] };
  return endpointsFrom({ ...definedOnly(own), ...definedOnly(values) });
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** parseArgs for a command's own flags (strict, positionals allowed), errors as bad-flag. */
export function parseOwnArgs<O extends ParseArgsConfig['options']>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw invalidArgument('bad-flag', (e as Error).message);
  }
}
