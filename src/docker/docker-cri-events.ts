// GetContainerEvents for the dockershim (cri-dockerd leaves it UNIMPLEMENTED): Docker's event
// stream (docker-events.ts) turned into CRI events carrying the pod's sandbox status and all its
// container statuses after the change, published in the order Docker reported them. A client
// that falls more than the buffer behind loses its stream with RESOURCE_EXHAUSTED (and relists),
// as from berth daemon.
import { ContainerEventType } from '../cri-api/gen/runtime/v1/api_pb.js';
import type { RuntimeOperations } from '../cri-api/operations.ts';
import { isBerthError, resourceExhausted } from '../errors/errors.ts';
import { EventBus, SubscriberOverflowError } from '../util/event-bus.ts';
import type { Logger } from '../util/logger.ts';
import { criContainerStatus, criSandboxStatus } from './docker-convert.ts';
import type { DockerEngine } from './docker-engine.ts';
import { type DockerContainerEvent, DockerEventWatcher } from './docker-events.ts';
import type { DockerPods } from './docker-pods.ts';

const TYPES = {
  created: ContainerEventType.CONTAINER_CREATED_EVENT,
  started: ContainerEventType.CONTAINER_STARTED_EVENT,
  stopped: ContainerEventType.CONTAINER_STOPPED_EVENT,
  deleted: ContainerEventType.CONTAINER_DELETED_EVENT,
} as const;

type CriEvent = {
  containerId: string;
  containerEventType: ContainerEventType;
  createdAt: bigint;
  podSandboxStatus?: ReturnType<typeof criSandboxStatus>;
  containersStatuses: ReturnType<typeof criContainerStatus>[];
};

export interface DockerCriEventsOptions {
  engine: DockerEngine;
  pods: DockerPods;
  logger: Logger;
  /** Events a client may fall behind before its stream ends. */
  bufferSize: number;
}

export class DockerCriEvents {
  readonly #o: DockerCriEventsOptions;
  readonly #bus = new EventBus<CriEvent>({ retainUntilFirstSubscriber: 1000 });
  readonly #watcher: DockerEventWatcher;
  /** Statuses are read one event after the other, so that events keep Docker's order. */
  #chain: Promise<void> = Promise.resolve();

  constructor(options: DockerCriEventsOptions) {
    this.#o = options;
    this.#watcher = new DockerEventWatcher({
      engine: options.engine,
      logger: options.logger,
      onEvent: (e) => {
        this.#chain = this.#chain
          .then(() => this.#publish(e))
          .catch((err: unknown) => {
            options.logger.warn({ err, containerId: e.containerId }, 'a container event was not published');
          });
      },
    });
  }

  start(): Promise<void> {
    return this.#watcher.start();
  }

  close(): void {
    this.#watcher.close();
    this.#bus.close();
  }

  async #sandboxStatus(id: string) {
    const { pods } = this.#o;
    try {
      return criSandboxStatus(await pods.sandboxView(await pods.inspectSandbox(id)));
    } catch (e) {
      if (isBerthError(e, 'not-found')) return undefined; // deleted
      throw e;
    }
  }

  async #publish(e: DockerContainerEvent): Promise<void> {
    const { pods } = this.#o;
    const podSandboxStatus = await this.#sandboxStatus(e.sandboxId);
    const containersStatuses: CriEvent['containersStatuses'] = [];
    for (const c of await pods.listContainers({ sandboxId: e.sandboxId })) {
      const inspect = await pods.inspectContainer(c.Id).catch(() => undefined);
      if (inspect) containersStatuses.push(criContainerStatus(inspect, inspect.Config.Image));
    }
    this.#bus.publish({
      containerId: e.containerId,
      containerEventType: TYPES[e.type],
      createdAt: e.createdAtNs,
      podSandboxStatus,
      containersStatuses,
    });
  }

  operations(): RuntimeOperations {
    const bus = this.#bus;
    const size = this.#o.bufferSize;
    return {
      async *getContainerEvents(_request, context) {
        try {
          for await (const event of bus.subscribe(size, context.signal)) yield event;
        } catch (err) {
          if (err instanceof SubscriberOverflowError) throw resourceExhausted('container-events-overflow', err.message, { cause: err });
          throw err;
        }
      },
    };
  }
}
