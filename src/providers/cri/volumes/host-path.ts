// hostPath volumes as the kubelet sets them up: nothing to mount, only the `type` check (and the
// creation of DirectoryOrCreate, 0755, and FileOrCreate, 0644, whose parent must exist).
import { mkdir, open, stat } from 'node:fs/promises';
import type { Volume } from '../../../agent/k8s-types.ts';
import { failedPrecondition, invalidArgument } from '../../../errors/errors.ts';

export type HostPathType = NonNullable<NonNullable<Volume['hostPath']>['type']>;

const DESCRIPTIONS: Record<string, string> = {
  Directory: 'directory',
  File: 'file',
  Socket: 'socket file',
  CharDevice: 'character device',
  BlockDevice: 'block device',
};

/** The kind of file at `p` (symlinks followed) in the API's words, or undefined when it does not exist. */
async function fileType(p: string): Promise<string | undefined> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  if (info.isDirectory()) return 'Directory';
  if (info.isFile()) return 'File';
  if (info.isSocket()) return 'Socket';
  if (info.isCharacterDevice()) return 'CharDevice';
  if (info.isBlockDevice()) return 'BlockDevice';
  return 'unknown';
}

async function expectType(p: string, expected: string): Promise<void> {
  const description = DESCRIPTIONS[expected]!;
  const actual = await fileType(p);
  if (actual === undefined) throw failedPrecondition('host-path-type-mismatch', `hostPath ${p} doesn't exist`);
  if (actual === 'unknown') {
    throw failedPrecondition(
      'host-path-type-mismatch',
      `hostPath type check failed, ${p} is not a ${description}, unable to determine its type: only recognise file, directory, socket, block device and character device`,
    );
  }
  if (actual !== expected)
    throw failedPrecondition('host-path-type-mismatch', `hostPath type check failed: ${p} is not a ${description}, it's a ${actual}`);
}

/** Checks (and for the OrCreate types creates) the host path; throws the kubelet's message when it does not fit. */
export async function setUpHostPath(source: { path: string; type?: HostPathType }): Promise<void> {
  const p = source.path;
  if (p.split('/').includes('..')) throw invalidArgument('host-path-invalid', `invalid HostPath \`${p}\`: must not contain '..'`);
  switch (source.type ?? '') {
    case '':
      return;
    case 'DirectoryOrCreate':
      if ((await fileType(p)) === undefined) await mkdir(p, { recursive: true, mode: 0o755 });
      return expectType(p, 'Directory');
    case 'FileOrCreate':
      if ((await fileType(p)) === undefined) await (await open(p, 'a', 0o644)).close();
      return expectType(p, 'File');
    case 'Directory':
    case 'File':
    case 'Socket':
    case 'CharDevice':
    case 'BlockDevice':
      return expectType(p, source.type!);
    default:
      throw invalidArgument('host-path-invalid', `${source.type} is an invalid volume type`);
  }
}
