// Manifests, indexes and image configs as a registry or an archive may send them.
import { detectManifestMediaType, MediaType, parseImageConfig, parseManifestOrIndex } from '../../../src/oci/image-spec.ts';
import type { FuzzTarget } from '../engine.ts';
import { invariant, refusalOrResult, words } from '../expect.ts';

const D = `sha256:${'b'.repeat(64)}`;
const descriptor = (mediaType: string, size = 10) => ({ mediaType, digest: D, size });

const seeds = [
  {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: descriptor(MediaType.ociConfig),
    layers: [descriptor('application/vnd.oci.image.layer.v1.tar+gzip')],
  },
  { schemaVersion: 2, mediaType: MediaType.dockerManifest, config: descriptor(MediaType.dockerConfig), layers: [] },
  {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [{ ...descriptor(MediaType.ociManifest), platform: { architecture: 'amd64', os: 'linux', variant: 'v8' } }],
  },
  {
    schemaVersion: 2,
    mediaType: MediaType.dockerManifestList,
    manifests: [{ ...descriptor(MediaType.dockerManifest), platform: { architecture: 'arm64', os: 'linux' } }],
  },
  {
    architecture: 'amd64',
    os: 'linux',
    config: {
      Env: ['PATH=/bin'],
      Entrypoint: ['/bin/sh'],
      Cmd: ['-c', 'true'],
      User: '1000:1000',
      WorkingDir: '/',
      ExposedPorts: { '80/tcp': {} },
      StopSignal: 'SIGTERM',
    },
    rootfs: { type: 'layers', diff_ids: [D] },
    history: [{ created: '2024-01-01T00:00:00Z', created_by: 'x', empty_layer: true }],
  },
].map((o) => Buffer.from(JSON.stringify(o)));

export const imageSpecTarget: FuzzTarget = {
  name: 'image-spec',
  cover: ['/src/oci/'],
  maxLength: 4096,
  dictionary: words(
    '"mediaType"',
    '"schemaVersion"',
    '"manifests"',
    '"layers"',
    '"config"',
    '"digest"',
    '"size"',
    'null',
    '[]',
    '{}',
    '-1',
    '1e309',
    '"platform"',
    '"urls"',
    '"annotations"',
  ),
  seeds: () => seeds,
  async run(input) {
    const detected = await refusalOrResult(() => detectManifestMediaType(input));
    const parsed = await refusalOrResult(() => parseManifestOrIndex(input, detected));
    if (parsed) invariant(typeof parsed === 'object', 'parseManifestOrIndex returned a non-object');
    const config = await refusalOrResult(() => parseImageConfig(input));
    if (config) invariant(typeof config === 'object' && config !== null, 'parseImageConfig returned a non-object');
  },
};
