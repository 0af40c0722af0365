// berth.v1.Images: importing archives and pulls with progress, beside CRI on the daemon's socket.
import path from 'node:path';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { fromCriAuth } from '../cri-api/cri-auth-input.ts';
import type { Images, PullImageEventSchema } from '../cri-api/gen/berth/v1/images_pb.js';
import { invalidArgument } from '../errors/errors.ts';
import type { PullEvent } from '../image/image-pull.ts';
import type { ImageRecord } from '../image/image-store.ts';
import type { AuthConfig } from '../image/registry/auth.ts';
import type { ServiceHandlers } from './grpc-service.ts';

export interface BerthImagesDeps {
  /** Imports the archive at `path` (absolute, on the daemon's host). */
  importArchive(path: string, baseName: string | undefined, signal: AbortSignal): Promise<ImageRecord[]>;
  pull(ref: string, auth: AuthConfig | undefined, signal: AbortSignal, onEvent: (event: PullEvent) => void): Promise<ImageRecord>;
}

type PullImageEventInit = MessageInitShape<typeof PullImageEventSchema>;

export function berthImagesHandlers(deps: BerthImagesDeps): ServiceHandlers<typeof Images.method> {
  return {
    async import(request, context) {
      if (request.path === '') throw invalidArgument('bad-archive', 'Import needs the path of an archive');
      if (!path.isAbsolute(request.path)) {
        throw invalidArgument('bad-archive', `Import needs an absolute path (the daemon reads it), got "${request.path}"`, {
          fields: { path: request.path },
        });
      }
      const records = await deps.importArchive(request.path, request.baseName === '' ? undefined : request.baseName, context.signal);
      return { images: records.map((r) => ({ id: r.id, repoTags: r.repoTags, repoDigests: r.repoDigests })) };
    },

    async *pull(request, context) {
      if (request.image.trim() === '') throw invalidArgument('bad-reference', 'Pull needs an image');
      const events = new EventQueue();
      const pulled = deps.pull(request.image, fromCriAuth(request.auth), context.signal, (e) => events.push(toPullImageEvent(e)));
      pulled.then(
        () => events.close(),
        () => events.close(),
      );
      yield* events;
      const image = await pulled;
      yield { event: { case: 'done', value: { imageRef: image.id } } };
    },
  };
}

export function toPullImageEvent(event: PullEvent): PullImageEventInit {
  if (event.kind === 'resolved') {
    return {
      event: {
        case: 'resolved',
        value: {
          reference: event.reference,
          digest: event.digest,
          layers: event.layers.map((l) => ({ digest: l.digest, size: BigInt(l.size) })),
        },
      },
    };
  }
  return {
    event: {
      case: 'layer',
      value: { digest: event.digest, phase: event.phase, written: BigInt(event.written), total: BigInt(event.total) },
    },
  };
}

/**
 * Events between a pull and a client that reads them at its own pace. Download progress of a
 * layer comes once per chunk: a newer progress event replaces an unread one of the same layer
 * and phase, so a slow client costs no memory.
 */
export class EventQueue implements AsyncIterable<PullImageEventInit> {
  #items: PullImageEventInit[] = [];
  #closed = false;
  #wake: (() => void) | undefined;

  push(item: PullImageEventInit): void {
    if (this.#closed) return;
    const last = this.#items.at(-1);
    if (last?.event?.case === 'layer' && item.event?.case === 'layer') {
      const a = last.event.value;
      const b = item.event.value;
      if (a.digest === b.digest && a.phase === b.phase) this.#items.pop();
    }
    this.#items.push(item);
    this.#notify();
  }

  close(): void {
    this.#closed = true;
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PullImageEventInit> {
    for (;;) {
      const item = this.#items.shift();
      if (item !== undefined) {
        yield item;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
  }
}
