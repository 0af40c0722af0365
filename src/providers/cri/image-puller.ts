// Makes sure a container's image is there, per imagePullPolicy, as the kubelet's image manager
// does (pkg/kubelet/images/image_manager.go EnsureImageExists): Never uses what is present,
// IfNotPresent pulls when missing, Always pulls; failed pulls back off per pod and image
// (ErrImagePull, then ImagePullBackOff until the delay has passed).
import type { Container, Pod, Secret } from '../../agent/k8s-types.ts';
import { defaultPullPolicy } from '../../agent/pod-defaults.ts';
import type { EventRecorder, SecretSource } from '../../agent/provider.ts';
import type { ImageClient } from '../../cri/cri-client.ts';
import { internal } from '../../errors/errors.ts';
import type { Logger } from '../../util/logger.ts';
import type { BackOff } from './crash-back-off.ts';
import { type AuthConfigInit, pullCredentials } from './pull-secrets.ts';
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
  /** Where imagePullSecrets are read (API-server mode); without it pulls go without credentials. */
  secrets?: SecretSource;
  events?: EventRecorder;
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

  /** The pod's imagePullSecrets that exist (a missing one is reported as an event and skipped, as the kubelet does). */
  async #pullSecrets(pod: Pod, signal: AbortSignal): Promise<Secret[]> {
    const { secrets, events } = this.#options;
    const names = (pod.spec.imagePullSecrets ?? []).map((s) => s.name ?? '').filter((n) => n !== '');
    if (secrets === undefined || names.length === 0) return [];
    const found: Secret[] = [];
    const missing: string[] = [];
    for (const name of names) {
      const secret = await secrets.getSecret(pod.metadata.namespace ?? 'default', name, signal).catch((e: unknown) => {
        if (signal.aborted) throw e;
        this.#options.logger.warn({ err: e, secret: name }, 'reading an image pull secret failed');
        return undefined;
      });
      if (secret === undefined) missing.push(name);
      else found.push(secret);
    }
    if (missing.length > 0) {
      events?.podEvent(
        pod,
        'Warning',
        'FailedToRetrieveImagePullSecret',
        `Unable to retrieve some image pull secrets (${missing.join(', ')}); attempting to pull the image may not succeed.`,
      );
    }
    return found;
  }

  async ensureImage(pod: Pod, container: Container, sandboxConfig: PodSandboxConfigInit, signal: AbortSignal): Promise<EnsureImageResult> {
    const { backOff, logger, now, events } = this.#options;
    const image = container.image ?? '';
    if (image === '') return { ok: false, reason: 'InvalidImageName', message: 'the container has no image' };
    const policy = container.imagePullPolicy ?? defaultPullPolicy(image);
    const presentRef = await this.#presentImageRef(image, signal);
    if (policy === 'Never' || (policy === 'IfNotPresent' && presentRef !== '')) {
      if (presentRef !== '') {
        events?.podEvent(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`, container.name);
        return { ok: true, imageRef: presentRef };
      }
      const message = `Container image "${image}" is not present with pull policy of Never`;
      events?.podEvent(pod, 'Warning', 'ErrImageNeverPull', message, container.name);
      return { ok: false, reason: 'ErrImageNeverPull', message };
    }
    const key = ImagePuller.backOffKey(pod, image);
    if (backOff.isInBackOffSinceUpdate(key, now())) {
      const last = backOff.lastUpdate(key) ?? now();
      const message = `Back-off pulling image "${image}"`;
      events?.podEvent(pod, 'Normal', 'BackOff', message, container.name);
      return { ok: false, reason: 'ImagePullBackOff', message, retryAfterMs: backOff.remaining(key, last) };
    }
    const started = now();
    logger.info({ image, container: container.name }, `pulling image "${image}"`);
    events?.podEvent(pod, 'Normal', 'Pulling', `Pulling image "${image}"`, container.name);
    try {
      const credentials = pullCredentials(image, await this.#pullSecrets(pod, signal));
      const imageRef = await this.#pull(image, credentials, sandboxConfig, signal);
      const seconds = ((now() - started) / 1000).toFixed(3);
      logger.info({ image, imageRef, ms: now() - started }, `pulled image "${image}"`);
      events?.podEvent(pod, 'Normal', 'Pulled', `Successfully pulled image "${image}" in ${seconds}s`, container.name);
      return { ok: true, imageRef };
    } catch (e) {
      if (signal.aborted) throw e;
      backOff.next(key, now());
      const message = `Failed to pull image "${image}": ${(e as Error).message}`;
      logger.warn({ image, err: e }, message);
      events?.podEvent(pod, 'Warning', 'Failed', message, container.name);
      events?.podEvent(pod, 'Warning', 'Failed', 'Error: ErrImagePull', container.name);
      return { ok: false, reason: 'ErrImagePull', message, retryAfterMs: backOff.get(key) };
    }
  }

  /** Pulls with each set of credentials in turn until one works (the kubelet's order); none: without credentials. */
  async #pull(image: string, credentials: AuthConfigInit[], sandboxConfig: PodSandboxConfigInit, signal: AbortSignal): Promise<string> {
    const options = { signal, timeoutMs: this.#options.pullTimeoutMs };
    if (credentials.length === 0) return (await this.#options.image.pullImage({ image: { image }, sandboxConfig }, options)).imageRef;
    const errors: string[] = [];
    for (const auth of credentials) {
      try {
        return (await this.#options.image.pullImage({ image: { image }, auth, sandboxConfig }, options)).imageRef;
      } catch (e) {
        if (signal.aborted) throw e;
        errors.push((e as Error).message);
      }
    }
    throw internal('image-pull-failed', errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`);
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
