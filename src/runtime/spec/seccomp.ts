// Which seccomp filter a container gets: the built-in default, none, or a profile file of the node.

import { readFile, realpath } from 'node:fs/promises';
import path, { isAbsolute } from 'node:path';
import { failedPrecondition, invalidArgument } from '../../errors/errors.ts';
import type { LinuxSeccomp, SeccompAction } from '../../oci/runtime-spec.ts';
import { defaultSeccompProfile } from './seccomp-default.ts';
import type { SecurityProfile } from './spec-input.ts';

const LOCALHOST_PREFIX = 'localhost/';

/**
 * The profile named by a deprecated CRI string field (seccomp_profile_path, apparmor_profile):
 * "" → undefined (unset), "runtime/default" and "docker/default" → RuntimeDefault, "unconfined",
 * "localhost/<ref>" → Localhost; anything else is an invalid-argument error (as containerd).
 */
export function profileFromLegacyPath(path: string): SecurityProfile | undefined {
  switch (path) {
    case '':
      return undefined;
    case 'runtime/default':
    case 'docker/default':
      return { type: 'runtime-default' };
    case 'unconfined':
      return { type: 'unconfined' };
    default:
      if (!path.startsWith(LOCALHOST_PREFIX)) {
        throw invalidArgument(
          'invalid-security-profile',
          `invalid security profile ${JSON.stringify(path)}: want runtime/default, unconfined or localhost/<name>`,
          {
            fields: { profile: path },
          },
        );
      }
      return { type: 'localhost', ref: path.slice(LOCALHOST_PREFIX.length) };
  }
}

const ACTIONS: ReadonlySet<string> = new Set<SeccompAction>([
  'SCMP_ACT_KILL',
  'SCMP_ACT_KILL_PROCESS',
  'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE',
  'SCMP_ACT_ALLOW',
  'SCMP_ACT_LOG',
  'SCMP_ACT_NOTIFY',
]);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses a seccomp profile in the runtime spec's format (what containerd and CRI-O accept as a
 * Localhost profile), checking its shape: a known defaultAction, and syscall rules with names and
 * a known action.
 */
export function parseSeccompProfile(text: string, source = 'seccomp profile'): LinuxSeccomp {
  const bad = (why: string, cause?: unknown) =>
    invalidArgument(
      'invalid-seccomp-profile',
      `${source}: ${why}`,
      cause === undefined ? { fields: { source } } : { cause, fields: { source } },
    );
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON: ${(e as Error).message}`, e);
  }
  if (!isObject(v)) throw bad('not a JSON object');
  if (typeof v['defaultAction'] !== 'string' || !ACTIONS.has(v['defaultAction']))
    throw bad(`unknown defaultAction ${JSON.stringify(v['defaultAction'])}`);
  if (v['architectures'] !== undefined && !(Array.isArray(v['architectures']) && v['architectures'].every((a) => typeof a === 'string'))) {
    throw bad('architectures must be a list of strings');
  }
  if (v['syscalls'] !== undefined) {
    if (!Array.isArray(v['syscalls'])) throw bad('syscalls must be a list');
    for (const [i, rule] of v['syscalls'].entries()) {
      if (!isObject(rule)) throw bad(`syscalls[${i}] is not an object`);
      if (!Array.isArray(rule['names']) || rule['names'].length === 0 || !rule['names'].every((n) => typeof n === 'string')) {
        throw bad(`syscalls[${i}].names must be a non-empty list of strings`);
      }
      if (typeof rule['action'] !== 'string' || !ACTIONS.has(rule['action']))
        throw bad(`syscalls[${i}] has unknown action ${JSON.stringify(rule['action'])}`);
      if (rule['args'] !== undefined && !Array.isArray(rule['args'])) throw bad(`syscalls[${i}].args must be a list`);
    }
  }
  return v as unknown as LinuxSeccomp;
}

/** The kubelet's default `--seccomp-profile-root`. */
export const DEFAULT_SECCOMP_PROFILE_ROOT = '/var/lib/kubelet/seccomp';

/**
 * Where a Localhost profile is: an absolute path as the kubelet sends it, or a name relative to
 * `root` that must stay inside it (no "..", no symlink out of it: resolved to the real file).
 */
export async function localhostProfilePath(ref: string, root: string): Promise<string> {
  if (isAbsolute(ref)) return ref;
  const refused = (why: string) =>
    invalidArgument('invalid-seccomp-profile', `seccomp profile ${JSON.stringify(ref)} ${why} the profile root ${root}`, {
      fields: { profile: ref, root },
    });
  const inside = (p: string, dir: string) => p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
  const joined = path.resolve(root, ref);
  if (!inside(joined, path.resolve(root))) throw refused('is outside');
  let real: string;
  let realRoot: string;
  try {
    [real, realRoot] = await Promise.all([realpath(joined), realpath(root)]);
  } catch (e) {
    throw invalidArgument('invalid-seccomp-profile', `cannot read seccomp profile ${joined}: ${(e as Error).message}`, {
      cause: e,
      fields: { path: joined },
    });
  }
  if (!inside(real, realRoot)) throw refused('resolves (through a symlink) outside');
  return real;
}

/**
 * Reads a Localhost profile: an absolute path on the node, or a path relative to `root` inside
 * it. Missing, unreadable, outside the root or malformed → invalid-argument.
 */
export async function loadLocalhostSeccompProfile(ref: string, root = DEFAULT_SECCOMP_PROFILE_ROOT): Promise<LinuxSeccomp> {
  if (ref === '') throw invalidArgument('invalid-seccomp-profile', 'a Localhost seccomp profile needs a path', { fields: { path: ref } });
  const file = await localhostProfilePath(ref, root);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw invalidArgument('invalid-seccomp-profile', `cannot read seccomp profile ${file}: ${(e as Error).message}`, {
      cause: e,
      fields: { path: file },
    });
  }
  return parseSeccompProfile(text, `seccomp profile ${file}`);
}

export interface SeccompChoice {
  profile: SecurityProfile | undefined;
  privileged: boolean;
  /** The container's final bounding set (the default profile allows more with more capabilities). */
  capabilities: readonly string[];
  seccompEnabled?: boolean;
  arch?: string;
  kernelRelease?: string;
  /** Where relative Localhost profiles are; default DEFAULT_SECCOMP_PROFILE_ROOT. */
  profileRoot?: string;
}

/**
 * The seccomp filter of a container, as containerd decides it: none when privileged or when no
 * profile is asked for (the kubelet asks for RuntimeDefault when the pod wants it) or for
 * Unconfined; the built-in default for RuntimeDefault; the file for Localhost. Asking for a
 * filter where seccomp is unavailable is a failed-precondition error.
 */
export async function chooseSeccomp(choice: SeccompChoice): Promise<LinuxSeccomp | undefined> {
  if (choice.privileged) return undefined;
  const p = choice.profile;
  if (p === undefined || p.type === 'unconfined') return undefined;
  if (choice.seccompEnabled === false) {
    throw failedPrecondition('seccomp-unsupported', 'seccomp is not supported on this node', { fields: { profile: p.type } });
  }
  if (p.type === 'runtime-default') {
    const opts: Parameters<typeof defaultSeccompProfile>[0] = { capabilities: choice.capabilities };
    if (choice.arch !== undefined) opts.arch = choice.arch;
    if (choice.kernelRelease !== undefined) opts.kernelRelease = choice.kernelRelease;
    return defaultSeccompProfile(opts);
  }
  const ref = p.ref.startsWith(LOCALHOST_PREFIX) ? p.ref.slice(LOCALHOST_PREFIX.length) : p.ref;
  return loadLocalhostSeccompProfile(ref, choice.profileRoot);
}
