// What the crictl-style commands share: a CRI connection for one command, ID prefixes resolved on
// the client (so they work against any runtime, not only those that resolve them), errors worded as
// crictl words them, and the parsing of label and integer flag values.
import { type CriClient, connectCri } from '../cri/cri-client.ts';
import { BerthError, invalidArgument, toBerthError } from '../errors/errors.ts';
import type { Endpoints } from './command.ts';

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
