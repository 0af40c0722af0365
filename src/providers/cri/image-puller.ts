// Makes sure a container's image is there, per imagePullPolicy, as the kubelet's image manager
// does (pkg/kubelet/images/image_manager.go EnsureImageExists): Never uses what is present,
// IfNotPresent pulls when missing, Always pulls; failed pulls back off per pod and image
// (ErrImagePull, then ImagePullBackOff until the delay has passed).
import type { Container, Pod } from '../../agent/k8s-types.ts';
import { defaultPullPolicy } from '../../agent/pod-defaults.ts';
import type { ImageClient } from '../../cri/cri-client.ts';
import type { Logger } from '../../util/logger.ts';
import type { BackOff } from './crash-back-off.ts';
import type { PodSandboxConfigInit } from './sandbox-config.ts';

export type EnsureImageResult =
  | { ok: true; imageRef: string }
  | {
      ok: false;
      reason: 'ErrImagePull' | 'ImagePullBackOff' | 'ErrImageNeverPull' | 'InvalidImageName';
      message: string;
      retryAfterMs?: number;
    };

export interface ImageUser {
  uid?: number;
  username: string;
}

export interface ImagePullerOptions {
  image: ImageClient;
  backOff: BackOff;
  logger: Logger;
  callTimeoutMs: number;
  pullTimeoutMs: number;
  now: () => number;
}

export class ImagePuller {
  readonly #options: ImagePullerOptions;

  constructor(options: ImagePullerOptions) {
    this.#options = options;
  }

  static backOffKey(pod: Pod, image: string): string {
    return `${pod.metadata.uid}_${image}`;
  }

  async #presentImageRef(image: string, signal: AbortSignal): Promise<string> {
    const response = await this.#options.image.imageStatus({ image: { image } }, { signal, timeoutMs: this.#options.callTimeoutMs });
    return response.image?.id ?? '';
  }

  async ensureImage(pod: Pod, container: Container, sandboxConfig: PodSandboxConfigInit, signal: AbortSignal): Promise<EnsureImageResult> {
    const { backOff, logger, now } = this.#options;
    const image = container.image ?? '';
    if (image === '') return { ok: false, reason: 'InvalidImageName', message: 'the container has no image' };
    const policy = container.imagePullPolicy ?? defaultPullPolicy(image);
    const presentRef = await this.#presentImageRef(image, signal);
    if (policy === 'Never' || (policy === 'IfNotPresent' && presentRef !== '')) {
      if (presentRef !== '') return { ok: true, imageRef: presentRef };
      return { ok: false, reason: 'ErrImageNeverPull', message: `Container image "${image}" is not present with pull policy of Never` };
    }
    const key = ImagePuller.backOffKey(pod, image);
    if (backOff.isInBackOffSinceUpdate(key, now())) {
      const last = backOff.lastUpdate(key) ?? now();
      return {
        ok: false,
        reason: 'ImagePullBackOff',
        message: `Back-off pulling image "${image}"`,
        retryAfterMs: backOff.remaining(key, last),
      };
    }
    const started = now();
    logger.info({ image, container: container.name }, `pulling image "${image}"`);
    try {
      const response = await this.#options.image.pullImage(
        { image: { image }, sandboxConfig },
        { signal, timeoutMs: this.#options.pullTimeoutMs },
      );
      logger.info({ image, imageRef: response.imageRef, ms: now() - started }, `pulled image "${image}"`);
      return { ok: true, imageRef: response.imageRef };
    } catch (e) {
      if (signal.aborted) throw e;
      backOff.next(key, now());
      const message = `Failed to pull image "${image}": ${(e as Error).message}`;
      logger.warn({ image, err: e }, message);
      return { ok: false, reason: 'ErrImagePull', message, retryAfterMs: backOff.get(key) };
    }
  }

  /** The user an image runs as, for the runAsNonRoot check. */
  async imageUser(imageRef: string, signal: AbortSignal): Promise<ImageUser> {
    const response = await this.#options.image.imageStatus(
      { image: { image: imageRef } },
      { signal, timeoutMs: this.#options.callTimeoutMs },
    );
    const uid = response.image?.uid;
    return { ...(uid !== undefined ? { uid: Number(uid.value) } : {}), username: response.image?.username ?? '' };
  }
}
