// What a subcommand declares (its name, flags and arguments, from which the parser and the help are
// made) and what it is handed when it runs; crictl's global flags and the CRI endpoints they name.
import { invalidArgument } from '../errors/errors.ts';
import { parseDuration } from '../util/duration.ts';

export interface FlagSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** May be given more than once; the values come as a list. */
  multiple?: boolean;
  /** The value's name in the help (`--tail N`). */
  value?: string;
  help: string;
}

export type Flags = Record<string, FlagSpec>;

type FlagValue<S extends FlagSpec> = S['type'] extends 'boolean' ? boolean : S extends { multiple: true } ? string[] : string;

export type FlagValues<F extends Flags> = { [K in keyof F]?: FlagValue<F[K]> };

/** crictl's global flags: before the command, or after it where the command's own flags leave their names free. */
export const GLOBAL_FLAGS = {
  'runtime-endpoint': {
    type: 'string',
    short: 'r',
    value: 'URL',
    help: 'CRI endpoint (default $CONTAINER_RUNTIME_ENDPOINT or unix:///run/berth/berth.sock)',
  },
  'image-endpoint': { type: 'string', short: 'i', value: 'URL', help: 'image service endpoint (default: the runtime endpoint)' },
  timeout: { type: 'string', short: 't', value: 'DURATION', help: 'per-call timeout (default 2m)' },
  debug: { type: 'boolean', short: 'D', help: 'print errors with their cause' },
  help: { type: 'boolean', short: 'h', help: 'show the help' },
} as const satisfies Flags;

export type GlobalValues = FlagValues<typeof GLOBAL_FLAGS>;

export interface Invocation<F extends Flags> {
  flags: FlagValues<F>;
  /** The positional arguments (for a command whose flags end at its first argument, all from there on). */
  args: string[];
  globals: GlobalValues;
}

export interface Command<F extends Flags = Flags> {
  /** One word, or two for a command under another (`image import`). */
  name: string;
  aliases?: string[];
  summary: string;
  /** The positional arguments as the help shows them: `CONTAINER-ID...`. */
  args?: string;
  flags: F;
  /** Flags end at the first positional argument: what follows is that argument's own (exec's COMMAND ARG...). */
  flagsEndAtFirstArg?: boolean;
  /** The kubectl-style form of the command, through the node API: run when the first argument names a pod (`pod/NAME`). */
  podForm?: Command;
  run(invocation: Invocation<F>): Promise<number | undefined>;
}

/** A command with its flag types kept, so that `run` sees typed values. */
export function defineCommand<const F extends Flags>(command: Command<F>): Command {
  return command as unknown as Command;
}

export const DEFAULT_ENDPOINT = 'unix:///run/berth/berth.sock';

export interface Endpoints {
  runtime: string;
  image: string;
  timeoutMs: number;
}

/** A Go duration ("30s", "1m30s", "500ms"); a bare number counts seconds. */
function parseTimeout(text: string): number {
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : parseDuration(text);
  if (ms === undefined) throw invalidArgument('bad-flag', `--timeout: expected a duration such as 30s, got "${text}"`);
  return ms;
}

/** -r/--runtime-endpoint, then CONTAINER_RUNTIME_ENDPOINT, then berth's socket; the image endpoint defaults to the runtime's. */
export function endpointsFrom(values: { 'runtime-endpoint'?: string; 'image-endpoint'?: string; timeout?: string }): Endpoints {
  const runtime = values['runtime-endpoint'] ?? process.env.CONTAINER_RUNTIME_ENDPOINT ?? DEFAULT_ENDPOINT;
  const image = values['image-endpoint'] ?? process.env.IMAGE_SERVICE_ENDPOINT ?? runtime;
  const timeoutMs = values.timeout === undefined ? 2 * 60_000 : parseTimeout(values.timeout);
  return { runtime, image, timeoutMs };
}
