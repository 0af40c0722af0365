// RemoveImage: by tag, ID or digest; every tag of that image goes; removing what is absent is no error.
import { collectGarbage } from '../image/image-gc.ts';
import type { ImageDeps } from './image-deps.ts';

export async function removeImage(deps: ImageDeps, refOrId: string): Promise<void> {
  await deps.gcLock.run('gc', async () => {
    const image = deps.images.resolve(refOrId);
    if (!image) return;
    deps.images.remove(image.id);
    deps.logger.info({ image: image.id, tags: image.repoTags }, 'image removed');
    await collectGarbage(deps);
  });
}
