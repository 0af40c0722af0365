// The images the node tests pull, built from the shared busybox-like fixture. Hard links in a
// layer carry the mode of the file they link to (as real tar writers write them; containerd
// applies a hard link's header mode to the file), so the applets stay executable.
import type { ImageSpec } from '../../support/image-builder.ts';
import { busyboxLikeImage } from '../../support/image-builder.ts';

function withExecutableHardlinks(spec: ImageSpec): ImageSpec {
  return {
    ...spec,
    layers: spec.layers.map((layer) => ({
      ...layer,
      entries: layer.entries?.map((entry) => (entry.type === 'hardlink' && entry.mode === undefined ? { ...entry, mode: 0o755 } : entry)),
    })),
  };
}

/** busybox with its applets; Cmd `sh`. */
export function busyboxImage(): ImageSpec {
  return withExecutableHardlinks(busyboxLikeImage());
}

/** A sandbox ("pause") image: busybox sleeping for ever. The runtime kills it with SIGKILL on StopPodSandbox. */
export function pauseImage(): ImageSpec {
  return withExecutableHardlinks(busyboxLikeImage({ config: { Entrypoint: ['/bin/sleep', '2147483647'], Cmd: null } }));
}
