// ListImages and ImageStatus.
import type { ImageRecord } from '../image/image-store.ts';
import type { ImageConfig } from '../oci/image-spec.ts';
import type { ImageDeps } from './image-deps.ts';

export function listImages(deps: ImageDeps, filter?: string): ImageRecord[] {
  const images = deps.images.list().sort((a, b) => a.pulledAt - b.pulledAt);
  if (!filter) return images;
  const match = deps.images.resolve(filter);
  return match ? [match] : [];
}

export interface ImageStatusResult {
  image: ImageRecord;
  config: ImageConfig;
}

/** Undefined when the node does not have the image: that is an answer, not an error. */
export async function imageStatus(deps: ImageDeps, refOrId: string): Promise<ImageStatusResult | undefined> {
  const image = deps.images.resolve(refOrId);
  if (!image) return undefined;
  return { image, config: await deps.readConfig(image.config.digest) };
}
