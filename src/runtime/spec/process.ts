// The command line, environment and working directory of a container's process: the image config
// merged with the CRI request exactly as containerd merges them (which is Docker's rule).

import { invalidArgument } from '../../errors/errors.ts';
import type { ImageRuntimeConfig } from '../../oci/image-spec.ts';
import { DEFAULT_PATH_ENV } from './defaults.ts';
import type { KeyValue } from './spec-input.ts';

/**
 * args = command + args, where
 * - no CRI command: the image Entrypoint (an Entrypoint of exactly [""] counts as none), and
 *   no CRI args: the image Cmd;
 * - a CRI command replaces the Entrypoint and drops the image Cmd;
 * - CRI args replace the image Cmd.
 * Nothing at all to run is an invalid-argument error.
 */
export function processArgs(
  command: readonly string[] | undefined,
  args: readonly string[] | undefined,
  image: ImageRuntimeConfig,
): string[] {
  let cmd = [...(command ?? [])];
  let rest = [...(args ?? [])];
  if (cmd.length === 0) {
    if (rest.length === 0) rest = [...(image.Cmd ?? [])];
    const entrypoint = image.Entrypoint ?? [];
    if (!(entrypoint.length === 1 && entrypoint[0] === '')) cmd = [...entrypoint];
  }
  const out = [...cmd, ...rest];
  if (out.length === 0) throw invalidArgument('no-command', 'no command specified: neither the container config nor the image has one');
  return out;
}

const keyOf = (entry: string): string => {
  const i = entry.indexOf('=');
  return i < 0 ? entry : entry.slice(0, i);
};

/**
 * Sets or replaces variables of `base` from `overrides` ("KEY=value"); an override without "="
 * removes the variable. Order is kept: replaced variables stay where they were.
 */
export function mergeEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | undefined)[] = [];
  const index = new Map<string, number>();
  for (const e of base) {
    const k = keyOf(e);
    const at = index.get(k);
    if (at !== undefined) out[at] = e;
    else {
      index.set(k, out.length);
      out.push(e);
    }
  }
  for (const e of overrides) {
    const k = keyOf(e);
    const at = index.get(k);
    if (!e.includes('=')) {
      if (at !== undefined) out[at] = undefined;
      continue;
    }
    if (at !== undefined) out[at] = e;
    else {
      index.set(k, out.length);
      out.push(e);
    }
  }
  return out.filter((e): e is string => e !== undefined);
}

export interface EnvOptions {
  hostname?: string;
  tty?: boolean;
}

/**
 * The environment, in containerd's order: the default PATH, TERM=xterm for a terminal, HOSTNAME,
 * then the image's variables, then the CRI envs; a later variable replaces an earlier one in place
 * (so the image's PATH replaces the default, and the CRI's replace the image's).
 */
export function processEnv(image: ImageRuntimeConfig, envs: readonly KeyValue[] | undefined, options: EnvOptions = {}): string[] {
  const base = [DEFAULT_PATH_ENV];
  if (options.tty === true) base.push('TERM=xterm');
  if (options.hostname !== undefined && options.hostname !== '') base.push(`HOSTNAME=${options.hostname}`);
  const overrides = [...(image.Env ?? []), ...(envs ?? []).map((e) => `${e.key}=${e.value}`)];
  return mergeEnv(base, overrides);
}

/** CRI working_dir, else the image's WorkingDir, else "/". A relative directory is an error. */
export function processCwd(workingDir: string | undefined, image: ImageRuntimeConfig): string {
  const cwd = workingDir || image.WorkingDir || '/';
  if (!cwd.startsWith('/')) {
    throw invalidArgument('invalid-working-dir', `working directory ${JSON.stringify(cwd)} is not absolute`, {
      fields: { workingDir: cwd },
    });
  }
  return cwd;
}
