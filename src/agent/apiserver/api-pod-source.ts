// The pods the API server binds to this node, kept current the way client-go's reflector does:
// list with fieldSelector spec.nodeName=NODE, then watch from the list's resourceVersion with
// bookmarks; a watch that ends is started again from the last resourceVersion seen (an event's or
// a bookmark's); "410 Gone" (the version is older than the server keeps) means list again.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../util/logger.ts';
import type { Pod, PodList } from '../k8s-types.ts';
import { podUid } from '../k8s-types.ts';
import { apiError, apiErrorMessage, fromApi, type KubeApi, statusCode } from './kube-api.ts';

export interface ApiPodSourceOptions {
  api: KubeApi;
  nodeName: string;
  logger: Logger;
  /** Every pod bound to the node (mirror pods included), after each change. */
  onPods: (pods: Pod[]) => void;
  /** Pause before retrying a failed list or watch. Default 1 s. */
  retryMs?: number;
  /** How long the server may keep one watch open (timeoutSeconds); default 5 to 10 minutes, as client-go picks. */
  watchTimeoutSeconds?: () => number;
}

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: { kind?: string; metadata?: { resourceVersion?: string }; code?: number; reason?: string; message?: string } & Partial<Pod>;
}

type WatchEnd = { kind: 'expired'; message: string } | { kind: 'closed' } | { kind: 'failed'; error: unknown };

export class ApiPodSource {
  readonly #options: ApiPodSourceOptions;
  readonly #pods = new Map<string, Pod>();
  #resourceVersion = '';
  readonly #listed = Promise.withResolvers<void>();
  #lists = 0;

  constructor(options: ApiPodSourceOptions) {
    this.#options = options;
    this.#listed.promise.catch(() => undefined);
  }

  get fieldSelector(): string {
    return `spec.nodeName=${this.#options.nodeName}`;
  }

  /** Resolves after the first successful list. */
  synced(): Promise<void> {
    return this.#listed.promise;
  }

  /** How many times the pods were listed (the first time, and after each 410 Gone). */
  get lists(): number {
    return this.#lists;
  }

  get resourceVersion(): string {
    return this.#resourceVersion;
  }

  pods(): Pod[] {
    return [...this.#pods.values()];
  }

  /** Lists and watches until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { logger } = this.#options;
    const retryMs = this.#options.retryMs ?? 1000;
    let mustList = true;
    while (!signal.aborted) {
      try {
        if (mustList) {
          await this.#list();
          mustList = false;
        }
        const started = Date.now();
        const end = await this.#watch(signal);
        if (end.kind === 'closed' && Date.now() - started < retryMs) {
          // A server that ends watches at once should not be asked again in a tight loop.
          await sleep(retryMs, undefined, { signal }).catch(() => undefined);
        }
        if (end.kind === 'expired') {
          logger.info({ resourceVersion: this.#resourceVersion, message: end.message }, 'pod watch expired (410 Gone): listing again');
          mustList = true;
          continue;
        }
        if (end.kind === 'failed') throw end.error;
      } catch (e) {
        if (signal.aborted) return;
        if (statusCode(e) === 410) {
          mustList = true;
          continue;
        }
        logger.warn({ err: apiErrorMessage(e), code: statusCode(e) }, 'listing or watching pods failed; retrying');
        await sleep(retryMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  async #list(): Promise<void> {
    const list = fromApi<PodList>(await this.#options.api.core.listPodForAllNamespaces({ fieldSelector: this.fieldSelector }));
    this.#pods.clear();
    for (const pod of list.items) this.#pods.set(podUid(pod), { ...pod, apiVersion: 'v1', kind: 'Pod' });
    this.#resourceVersion = list.metadata.resourceVersion ?? '';
    this.#lists++;
    this.#options.logger.debug({ pods: this.#pods.size, resourceVersion: this.#resourceVersion }, 'listed the pods bound to the node');
    this.#listed.resolve();
    this.#emit();
  }

  #emit(): void {
    this.#options.onPods(this.pods());
  }

  #watch(signal: AbortSignal): Promise<WatchEnd> {
    const { api, logger } = this.#options;
    const timeoutSeconds = this.#options.watchTimeoutSeconds?.() ?? 300 + Math.floor(Math.random() * 300);
    return new Promise<WatchEnd>((resolve) => {
      let ended: WatchEnd | undefined;
      let controller: AbortController | undefined;
      const finish = (end: WatchEnd) => {
        ended ??= end;
        signal.removeEventListener('abort', onAbort);
        controller?.abort();
        resolve(ended);
      };
      const onAbort = () => finish({ kind: 'closed' });
      signal.addEventListener('abort', onAbort, { once: true });
      const onEvent = (type: string, object: WatchEvent['object']) => {
        if (ended !== undefined) return;
        const version = object?.metadata?.resourceVersion;
        switch (type) {
          case 'ADDED':
          case 'MODIFIED': {
            const pod = { ...(object as Pod), apiVersion: 'v1' as const, kind: 'Pod' as const };
            this.#pods.set(podUid(pod), pod);
            break;
          }
          case 'DELETED':
            this.#pods.delete(podUid(object as Pod));
            break;
          case 'BOOKMARK':
            break;
          case 'ERROR':
            if (object?.code === 410) finish({ kind: 'expired', message: object.message ?? '' });
            else finish({ kind: 'failed', error: apiError(object?.message ?? 'watch error', object?.code) });
            return;
          default:
            logger.warn({ type }, 'unknown pod watch event');
            return;
        }
        if (version) this.#resourceVersion = version;
        if (type !== 'BOOKMARK') this.#emit();
      };
      api.watch
        .watch(
          '/api/v1/pods',
          { fieldSelector: this.fieldSelector, resourceVersion: this.#resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
          onEvent,
          (err: unknown) => {
            // The library ends a watch that was silent for 30 s (TimeoutError): resume it, as after a close.
            const silent = (err as Error | null)?.name === 'TimeoutError';
            if (err === null || err === undefined || signal.aborted || silent) finish({ kind: 'closed' });
            else if (statusCode(err) === 410) finish({ kind: 'expired', message: (err as Error).message });
            else finish({ kind: 'failed', error: err });
          },
        )
        .then((c) => {
          controller = c;
          if (ended !== undefined) c.abort();
        })
        .catch((e: unknown) => finish({ kind: 'failed', error: e }));
    });
  }
}
