// PullImage: the reference the kubelet gives, with the credentials of its pull secret.

import { invalidArgument } from '../errors/errors.ts';
import type { PullOptions } from '../image/image-pull.ts';
import type { ImageRecord } from '../image/image-store.ts';
import type { ImageDeps } from './image-deps.ts';

export async function pullImage(deps: ImageDeps, reference: string, options: PullOptions = {}): Promise<ImageRecord> {
  if (reference.trim() === '') throw invalidArgument('bad-reference', 'no image given to pull');
  return deps.puller.pull(reference, options);
}
