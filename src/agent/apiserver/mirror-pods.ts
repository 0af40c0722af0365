// Mirror pods: the API server's view of the node's static pods, as the kubelet keeps them. Each
// static pod gets a pod of its namespace and name in the API, annotated kubernetes.io/config.mirror
// with the static pod's hash and owned by the Node; the node never runs these. A mirror pod whose
// hash is not its static pod's (the manifest changed), or whose static pod is gone, is deleted (and
// the current one created once it is gone). As on a kubelet, a static pod whose mirror pod the API
// server refuses (NodeRestriction refuses mirror pods that refer to Secrets, ConfigMaps or service
// accounts) runs without one; the refusal is logged once per manifest version and retried quietly.
import type { Logger } from '../../util/logger.ts';
import type { Node, Pod } from '../k8s-types.ts';
import { CONFIG_HASH_ANNOTATION, CONFIG_SEEN_ANNOTATION } from '../static-pods/static-pod-manifest.ts';
import { apiErrorMessage, fromApi, type KubeApi, statusCode, toApi } from './kube-api.ts';

export const MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

export function isMirrorPod(pod: Pod): boolean {
  return pod.metadata.annotations?.[MIRROR_ANNOTATION] !== undefined;
}

function key(pod: Pod): string {
  return `${pod.metadata.namespace ?? 'default'}/${pod.metadata.name ?? ''}`;
}

/** The static pod's hash (kubernetes.io/config.hash), which its mirror pod carries. */
export function staticPodHash(pod: Pod): string {
  return pod.metadata.annotations?.[CONFIG_HASH_ANNOTATION] ?? pod.metadata.uid ?? '';
}

/** The mirror pod to create for a static pod on `node`. */
export function mirrorPodFor(staticPod: Pod, node: Node): Pod {
  const { [CONFIG_SEEN_ANNOTATION]: _seen, ...annotations } = staticPod.metadata.annotations ?? {};
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: staticPod.metadata.name,
      namespace: staticPod.metadata.namespace ?? 'default',
      ...(staticPod.metadata.labels ? { labels: staticPod.metadata.labels } : {}),
      annotations: { ...annotations, [MIRROR_ANNOTATION]: staticPodHash(staticPod) },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: node.metadata.name, uid: node.metadata.uid, controller: true }],
    },
    spec: { ...staticPod.spec, nodeName: node.metadata.name },
  };
}

/** The current mirror pod of a static pod, if the API has one. */
export function currentMirror(staticPod: Pod, mirrors: Pod[]): Pod | undefined {
  return mirrors.find(
    (m) =>
      key(m) === key(staticPod) &&
      m.metadata.annotations?.[MIRROR_ANNOTATION] === staticPodHash(staticPod) &&
      !m.metadata.deletionTimestamp,
  );
}

export interface MirrorPodsOptions {
  api: KubeApi;
  logger: Logger;
}

export class MirrorPods {
  readonly #options: MirrorPodsOptions;
  /** Mirror pods created or deleted and not yet seen so in the watch: not asked for twice. */
  readonly #created = new Map<string, number>();
  readonly #deleted = new Map<string, number>();
  /** Static pods whose mirror pod the API refused, with the hash refused: logged once each. */
  readonly #refused = new Map<string, string>();

  constructor(options: MirrorPodsOptions) {
    this.#options = options;
  }

  /** Brings the API's mirror pods in line with the static pods; `mirrors` are the mirror pods the watch shows. */
  async sync(staticPods: Pod[], mirrors: Pod[], node: Node): Promise<void> {
    const { api, logger } = this.#options;
    const now = Date.now();
    const staticByKey = new Map(staticPods.map((p) => [key(p), p]));
    for (const k of this.#refused.keys()) if (!staticByKey.has(k)) this.#refused.delete(k);
    for (const [k, at] of this.#created) if (now - at > 30_000 || mirrors.some((m) => key(m) === k)) this.#created.delete(k);
    for (const [uid, at] of this.#deleted) if (now - at > 30_000 || !mirrors.some((m) => m.metadata.uid === uid)) this.#deleted.delete(uid);

    for (const mirror of mirrors) {
      const staticPod = staticByKey.get(key(mirror));
      const stale = staticPod === undefined || mirror.metadata.annotations?.[MIRROR_ANNOTATION] !== staticPodHash(staticPod);
      if (!stale || mirror.metadata.deletionTimestamp || this.#deleted.has(mirror.metadata.uid ?? '')) continue;
      logger.info(
        { pod: key(mirror), uid: mirror.metadata.uid },
        staticPod ? 'deleting an outdated mirror pod' : 'deleting an orphaned mirror pod',
      );
      try {
        await api.core.deleteNamespacedPod({
          name: mirror.metadata.name!,
          namespace: mirror.metadata.namespace ?? 'default',
          gracePeriodSeconds: 0,
          body: { gracePeriodSeconds: 0, preconditions: { uid: mirror.metadata.uid } },
        });
        this.#deleted.set(mirror.metadata.uid ?? '', now);
      } catch (e) {
        if (statusCode(e) !== 404 && statusCode(e) !== 409)
          logger.warn({ err: apiErrorMessage(e), pod: key(mirror) }, 'deleting a mirror pod failed');
      }
    }

    for (const staticPod of staticPods) {
      const k = key(staticPod);
      // One pod per name: an old mirror pod must be gone before the new one is made.
      if (mirrors.some((m) => key(m) === k) || this.#created.has(k)) continue;
      try {
        const created = fromApi<Pod>(
          await api.core.createNamespacedPod({
            namespace: staticPod.metadata.namespace ?? 'default',
            body: toApi(mirrorPodFor(staticPod, node)),
          }),
        );
        this.#created.set(k, now);
        this.#refused.delete(k);
        logger.info({ pod: k, uid: created.metadata.uid }, 'created the mirror pod of a static pod');
      } catch (e) {
        const code = statusCode(e);
        if (code === 409) {
          this.#created.set(k, now);
          continue;
        }
        const refusal = code === 403 || code === 422;
        const logged = refusal && this.#refused.get(k) === staticPodHash(staticPod);
        if (refusal) this.#refused.set(k, staticPodHash(staticPod));
        logger[logged ? 'debug' : 'warn']({ err: apiErrorMessage(e), code, pod: k }, 'creating a mirror pod failed');
      }
    }
  }
}
