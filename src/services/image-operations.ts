// berth's CRI ImageService: CRI requests ⇄ berth's image services.

import { fromCriAuth } from '../cri-api/cri-auth-input.ts';
import { criFilesystemUsage } from '../cri-api/cri-stats.ts';
import type { ImageOperations } from '../cri-api/operations.ts';
import { invalidArgument } from '../errors/errors.ts';
import type { ImageRecord } from '../image/image-store.ts';
import type { ImageConfig } from '../oci/image-spec.ts';
import type { ImageDeps } from './image-deps.ts';
import { imageFsInfo } from './image-fs-info.ts';
import { imageStatus, listImages } from './image-list.ts';
import { pullImage } from './image-pull.ts';
import { removeImage } from './image-remove.ts';

/** `pinned`: references of images reported as pinned (the sandbox image), which the kubelet's image GC leaves alone. */
export function berthImageOperations(deps: ImageDeps, pinned: string[] = []): ImageOperations {
  const toCriImage = (image: ImageRecord, config: ImageConfig) => {
    const isPinned = image.pinned || pinned.some((ref) => deps.images.resolve(ref)?.id === image.id);
    return { ...criImage(image, config), pinned: isPinned };
  };
  return {
    async listImages(request) {
      const images = listImages(deps, request.filter?.image?.image);
      return { images: await Promise.all(images.map(async (image) => toCriImage(image, await deps.readConfig(image.config.digest)))) };
    },

    async imageStatus(request) {
      const ref = request.image?.image ?? '';
      if (ref === '') throw invalidArgument('bad-reference', 'ImageStatus needs an image');
      const found = await imageStatus(deps, ref);
      if (!found) return {};
      const info: Record<string, string> = {};
      if (request.verbose) {
        info.info = JSON.stringify({
          id: found.image.id,
          chainID: found.image.chainIds.at(-1) ?? '',
          manifestDigest: found.image.manifest.digest,
          layers: found.image.layers,
          imageSpec: found.config,
        });
      }
      return { image: toCriImage(found.image, found.config), info };
    },

    async pullImage(request, context) {
      const ref = request.image?.image ?? '';
      const image = await pullImage(deps, ref, { auth: fromCriAuth(request.auth), signal: context.signal });
      return { imageRef: image.id };
    },

    async removeImage(request) {
      const ref = request.image?.image ?? '';
      if (ref === '') throw invalidArgument('bad-reference', 'RemoveImage needs an image');
      await removeImage(deps, ref);
      return {};
    },

    async imageFsInfo() {
      const u = await imageFsInfo(deps);
      return { imageFilesystems: [criFilesystemUsage(u)], containerFilesystems: [] };
    },
  };
}

/** uid when the image's user is numeric, username otherwise (containerd's getUserFromImage). */
function imageUser(config: ImageConfig): { uid?: { value: bigint }; username: string } {
  const user = (config.config?.User ?? '').split(':')[0] ?? '';
  if (user === '') return { username: '' };
  if (/^\d+$/.test(user)) return { uid: { value: BigInt(user) }, username: '' };
  return { username: user };
}

function criImage(image: ImageRecord, config: ImageConfig) {
  return {
    id: image.id,
    repoTags: image.repoTags,
    repoDigests: image.repoDigests,
    size: BigInt(image.size),
    ...imageUser(config),
    spec: { image: image.id, annotations: {} },
    pinned: image.pinned,
  };
}
