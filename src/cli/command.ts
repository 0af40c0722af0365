// What every subcommand looks like, and the flags they all share (crictl's global flags).
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { invalidArgument } from '../errors/errors.ts';

export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  usage: string;
  run(argv: string[]): Promise<number | undefined>;
}

export const GLOBAL_OPTIONS = {
  'runtime-endpoint': { type: 'string', short: 'r' },
  'image-endpoint': { type: 'string', short: 'i' },
  timeout: { type: 'string', short: 't' },
  debug: { type: 'boolean', short: 'D' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const DEFAULT_ENDPOINT = 'unix:///run/berth/berth.sock';

export interface Endpoints {
  runtime: string;
  image: string;
  timeoutMs: number;
}

/** -r/--runtime-endpoint, then CONTAINER_RUNTIME_ENDPOINT, then berth's socket; the image endpoint defaults to the runtime's. */
export function endpointsFrom(values: { 'runtime-endpoint'?: string; 'image-endpoint'?: string; timeout?: string }): Endpoints {
  const runtime = values['runtime-endpoint'] ?? process.env.CONTAINER_RUNTIME_ENDPOINT ?? DEFAULT_ENDPOINT;
  const image = values['image-endpoint'] ?? process.env.IMAGE_SERVICE_ENDPOINT ?? runtime;
  let timeoutMs = 2 * 60_000;
  if (values.timeout !== undefined) {
    const m = /^(\d+)(ms|s|m)?$/.exec(values.timeout);
    if (!m) throw invalidArgument('bad-flag', `--timeout: expected a duration such as 30s, got "${values.timeout}"`);
    timeoutMs = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1000);
  }
  return { runtime, image, timeoutMs };
}

/** parseArgs with the global flags mixed in, strict, positionals allowed. */
export function parseCommandArgs<O extends ParseArgsConfig['options']>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (e) {
    throw invalidArgument('bad-flag', (e as Error).message);
  }
}
