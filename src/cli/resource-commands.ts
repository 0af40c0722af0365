// Pieces the crictl-style container and pod commands share: list filtering and ordering,
// status text and JSON, and walking the IDs the user named.
import type { JsonObject } from '@bufbuild/protobuf';
import type { CriClient } from '../cri/cri-client.ts';
import { invalidArgument } from '../errors/errors.ts';
import { type Command, defineCommand, endpointsFrom } from './command.ts';
import { withContext, withCri } from './container-cri.ts';
import { formatStatusInfo, parseOutputFormat, sortKeysDeep } from './output/documents.ts';

/** An unset or empty pattern matches everything; an invalid one matches nothing. */
export function matchesRegex(pattern: string | undefined, target: string): boolean {
  if (pattern === undefined || pattern === '') return true;
  try {
    return new RegExp(pattern).test(target);
  } catch {
    return false;
  }
}

/** Newest first; --latest keeps one, --last N keeps N. */
export function newestFirst<T extends { createdAt: bigint }>(items: T[], latest: boolean, last: number): T[] {
  const sorted = [...items].sort((a, b) => (a.createdAt > b.createdAt ? -1 : a.createdAt < b.createdAt ? 1 : 0));
  let n = sorted.length;
  if (latest) n = 1;
  if (last > 0) n = last;
  return sorted.slice(0, Math.min(n, sorted.length));
}

/** Labels or annotations as crictl prints them: a title, then one sorted `\tkey -> value` line each; nothing when empty. */
export function sortedMapLines(title: string, map: Record<string, string>): string {
  const keys = Object.keys(map).sort();
  if (keys.length === 0) return '';
  return `${title}:\n${keys.map((k) => `\t${k} -> ${map[k]}\n`).join('')}`;
}

/** The verbose info of a status in Go's map formatting. */
export function infoMapLine(info: Record<string, string>): string {
  const keys = Object.keys(info).sort();
  return `Info: map[${keys.map((k) => `${k}:${info[k]}`).join(' ')}]\n`;
}

/** A status's protobuf JSON with nested keys sorted, and the given fields replaced by their time strings. */
export function statusJsonWithTimes(json: JsonObject, times: Record<string, string>): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(json)) out[k] = Object.hasOwn(times, k) ? times[k]! : sortKeysDeep(v);
  return out;
}

/** Resolves the ID prefixes the user gave, then runs `body` on each ID in order with the name as given. */
export async function forEachResolved(
  given: string[],
  resolve: (prefixes: string[]) => Promise<string[]>,
  body: (id: string, name: string) => Promise<void>,
): Promise<void> {
  const ids = await resolve(given);
  for (const [i, id] of ids.entries()) await body(id, given[i]!);
}

type StatusResponse = { status?: unknown; info: Record<string, string> };

/** What `inspect` and `inspectp` differ in: the kind of resource and how its status is fetched and shown. */
export interface InspectSpec<R extends StatusResponse> {
  name: string;
  summary: string;
  args: string;
  noIdsMessage: string;
  resolve: (cri: CriClient, prefixes: string[], timeoutMs: number) => Promise<string[]>;
  status: (cri: CriClient, id: string, verbose: boolean, timeoutMs: number) => Promise<R>;
  failedContext: (name: string) => string;
  noStatusMessage: (name: string) => string;
  text: (r: R, verbose: boolean) => string;
  json: (r: R, format: 'json' | 'yaml') => JsonObject;
}

/** An inspect command: each named resource's status as JSON/YAML (with its info) or as short text. */
export function inspectCommandFor<R extends StatusResponse>(spec: InspectSpec<R>): Command {
  return defineCommand({
    name: spec.name,
    summary: spec.summary,
    args: spec.args,
    flags: {
      output: { type: 'string', short: 'o', value: 'FORMAT', help: 'json (default), yaml or table' },
      quiet: { type: 'boolean', short: 'q', help: 'the status only, without the verbose info' },
    },
    async run({ flags: values, args: positionals, globals }) {
      if (positionals.length === 0) throw invalidArgument('bad-flag', spec.noIdsMessage);
      const format = parseOutputFormat(values.output, 'json');
      const ep = endpointsFrom(globals);
      const verbose = !values.quiet;
      await withCri(ep, (cri) =>
        forEachResolved(
          positionals,
          (prefixes) => spec.resolve(cri, prefixes, ep.timeoutMs),
          async (id, name) => {
            const r = await spec.status(cri, id, verbose, ep.timeoutMs).catch((e: unknown) => {
              throw withContext(e, spec.failedContext(name));
            });
            if (r.status === undefined) throw invalidArgument('no-status', spec.noStatusMessage(name));
            process.stdout.write(format === 'table' ? spec.text(r, verbose) : formatStatusInfo(spec.json(r, format), r.info, format));
          },
        ),
      );
      return 0;
    },
  });
}
