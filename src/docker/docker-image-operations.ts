// The dockershim's CRI ImageService: images are the Docker Engine's, under the names the kubelet
// asked for (mirrored pulls included, see docker-image-names.ts).
import { criFilesystemUsage } from '../cri-api/cri-stats.ts';
import type { ImageOperations } from '../cri-api/operations.ts';
import { invalidArgument } from '../errors/errors.ts';
import { type ImageReference, parseReference } from '../oci/reference.ts';
import { type DockerEngine, dockerCall, isDockerNotFound } from './docker-engine.ts';
import { DockerImageFs } from './docker-image-fs.ts';
import { criRepoDigests, criRepoTags, dockerNamesOf, type Registries } from './docker-image-names.ts';
import { pullThroughDocker } from './docker-image-pull.ts';
import { registryAuthHeader } from './docker-registry-auth.ts';

export interface DockerImageDeps {
  engine: DockerEngine;
  registries: Registries;
  /** References reported as pinned (the sandbox image), which the kubelet's image GC leaves alone. */
  pinnedImages?: string[];
}

interface DockerImage {
  Id: string;
  RepoTags?: string[];
  RepoDigests?: string[];
  Size: number;
  Created?: string;
  Architecture?: string;
  Os?: string;
  Config?: { User?: string } & Record<string, unknown>;
  RootFS?: unknown;
  GraphDriver?: { Name?: string };
}

const IMAGE_ID = /^(sha256:)?[0-9a-f]{4,64}$/;

function parseOrUndefined(s: string): ImageReference | undefined {
  try {
    return parseReference(s);
  } catch {
    return undefined;
  }
}

/** uid when the image's user is numeric, username otherwise (containerd's getUserFromImage). */
function imageUser(user: string | undefined): { uid?: { value: bigint }; username: string } {
  const name = (user ?? '').split(':')[0] ?? '';
  if (name === '') return { username: '' };
  if (/^\d+$/.test(name)) return { uid: { value: BigInt(name) }, username: '' };
  return { username: name };
}

export function dockerImageOperations(deps: DockerImageDeps): ImageOperations {
  const { engine, registries } = deps;
  const imageFs = new DockerImageFs(engine);
  const pinned = new Set((deps.pinnedImages ?? []).map((r) => parseOrUndefined(r)?.string() ?? r));
  /** The user of each listed image, by image ID. */
  const users = new Map<string, string | undefined>();

  const inspect = async (name: string): Promise<DockerImage | undefined> => {
    try {
      return (await engine.docker.getImage(name).inspect()) as unknown as DockerImage;
    } catch (e) {
      if (isDockerNotFound(e)) return undefined;
      return dockerCall(`inspect image ${name}`, () => Promise.reject(e));
    }
  };

  /** The image a CRI reference or ID names, or undefined: the node does not have it. */
  const resolve = async (refOrId: string): Promise<DockerImage | undefined> => {
    if (IMAGE_ID.test(refOrId)) return inspect(refOrId);
    const ref = parseOrUndefined(refOrId);
    if (ref === undefined) return undefined;
    for (const name of dockerNamesOf(ref, registries)) {
      const found = await inspect(name);
      if (found) return found;
    }
    return undefined;
  };

  const criImage = (image: DockerImage) => {
    const repoTags = criRepoTags(image.RepoTags);
    const repoDigests = criRepoDigests(image.RepoDigests, repoTags, registries);
    const isPinned = pinned.has(image.Id) || [...repoTags, ...repoDigests].some((r) => pinned.has(r));
    return {
      id: image.Id,
      repoTags,
      repoDigests,
      size: BigInt(image.Size),
      ...imageUser(image.Config?.User),
      spec: { image: image.Id, annotations: {} },
      pinned: isPinned,
    };
  };

  return {
    async listImages(request) {
      const filter = request.filter?.image?.image ?? '';
      if (filter !== '') {
        const found = await resolve(filter);
        return { images: found ? [criImage(found)] : [] };
      }
      const summaries = await dockerCall('list images', () => engine.docker.listImages());
      // The list has all but the user, which an image ID never changes: inspected once per ID.
      const listed = new Set(summaries.map((s) => s.Id));
      for (const id of users.keys()) if (!listed.has(id)) users.delete(id);
      const images = await Promise.all(
        summaries.map(async (s): Promise<DockerImage | undefined> => {
          if (!users.has(s.Id)) {
            const inspected = await inspect(s.Id);
            if (inspected === undefined) return undefined; // removed meanwhile
            users.set(s.Id, inspected.Config?.User);
          }
          return {
            Id: s.Id,
            RepoTags: s.RepoTags ?? [],
            RepoDigests: s.RepoDigests ?? [],
            Size: s.Size,
            Config: { User: users.get(s.Id) },
          };
        }),
      );
      return { images: images.flatMap((i) => (i ? [criImage(i)] : [])) };
    },

    async imageStatus(request) {
      const ref = request.image?.image ?? '';
      if (ref === '') throw invalidArgument('bad-reference', 'ImageStatus needs an image');
      const found = await resolve(ref);
      if (!found) return {};
      const info: Record<string, string> = {};
      if (request.verbose) {
        info.info = JSON.stringify({
          id: found.Id,
          created: found.Created,
          architecture: found.Architecture,
          os: found.Os,
          config: found.Config,
          rootfs: found.RootFS,
          storageDriver: found.GraphDriver?.Name,
          dockerRepoTags: found.RepoTags ?? [],
          dockerRepoDigests: found.RepoDigests ?? [],
        });
      }
      return { image: criImage(found), info };
    },

    async pullImage(request, context) {
      const asked = request.image?.image ?? '';
      if (asked.trim() === '') throw invalidArgument('bad-reference', 'no image given to pull');
      const ref = parseReference(asked);
      const auth = registryAuthHeader(request.auth);
      const name = await pullThroughDocker(engine, registries, ref, { auth, signal: context.signal });
      const image = await dockerCall(
        `inspect the pulled image ${name}`,
        async () => (await engine.docker.getImage(name).inspect()) as unknown as DockerImage,
      );
      return { imageRef: image.Id };
    },

    async removeImage(request) {
      const ref = request.image?.image ?? '';
      if (ref === '') throw invalidArgument('bad-reference', 'RemoveImage needs an image');
      const image = await resolve(ref);
      if (!image) return {};
      // Every name, then the ID: Docker removes by ID only an image named in one repository.
      for (const name of [...(image.RepoTags ?? []), ...(image.RepoDigests ?? []), image.Id]) {
        try {
          await engine.docker.getImage(name).remove();
        } catch (e) {
          if (!isDockerNotFound(e)) await dockerCall(`remove image ${name}`, () => Promise.reject(e));
        }
      }
      return {};
    },

    async imageFsInfo(_request, context) {
      const u = await imageFs.usage(context.signal);
      return { imageFilesystems: [criFilesystemUsage(u)], containerFilesystems: [] };
    },
  };
}
