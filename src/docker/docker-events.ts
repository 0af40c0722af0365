// Docker's event stream as the CRI's container events (GetContainerEvents, which cri-dockerd leaves
// UNIMPLEMENTED): create, start, die and destroy of the dockershim's own containers (those with the
// type label). The stream is opened again when it breaks or the engine restarts, from `since=` the
// last event's time, skipping what was already seen at that time; an engine that restarted has
// forgotten its events, so what changed meanwhile is read from the container list instead (and the
// replayed events of a container older than that list are stale).
import type { IncomingMessage } from 'node:http';
import { type Logger, silentLogger } from '../util/logger.ts';
import { sleep } from '../util/sleep.ts';
import { type DockerEngine, dockerCall, dockerError, isDockerNotFound } from './docker-engine.ts';
import { SANDBOX_ID_LABEL, TYPE_LABEL } from './docker-labels.ts';
import { dockerSince, parseTimeNs } from './docker-log-decoder.ts';

export type DockerContainerEventType = 'created' | 'started' | 'stopped' | 'deleted';

export interface DockerContainerEvent {
  containerId: string;
  type: DockerContainerEventType;
  isSandbox: boolean;
  /** A container's sandbox (its label io.kubernetes.sandbox.id); a sandbox's own id. */
  sandboxId: string;
  /** When it happened, ns since the epoch. */
  createdAtNs: bigint;
}

export interface DockerEventWatcherOptions {
  engine: DockerEngine;
  logger?: Logger;
  onEvent(e: DockerContainerEvent): void;
}

interface DockerEvent {
  Type?: string;
  Action?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

const ACTIONS: Record<string, DockerContainerEventType> = { create: 'created', start: 'started', die: 'stopped', destroy: 'deleted' };
/** Docker's container states as the last event that led there (`removing` is on its way to `deleted`). */
const STATE_EVENTS: Record<string, DockerContainerEventType> = {
  created: 'created',
  running: 'started',
  paused: 'started',
  restarting: 'started',
  exited: 'stopped',
  dead: 'stopped',
};
const ORDER: DockerContainerEventType[] = ['created', 'started', 'stopped'];
const FILTERS = JSON.stringify({ type: ['container'], label: [TYPE_LABEL], event: Object.keys(ACTIONS) });
const TIME_NANO = /"timeNano":\s*(\d+)/;
const MAX_BACKOFF_MS = 2000;
/** How long a deleted container is remembered, so that a late repeat of its events is dropped. */
const TOMBSTONE_MS = 10 * 60_000;

interface Known {
  last: DockerContainerEventType;
  isSandbox: boolean;
  sandboxId: string;
  deletedAt?: number;
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

function identity(labels: Record<string, string> | undefined, id: string): { isSandbox: boolean; sandboxId: string } | undefined {
  const type = labels?.[TYPE_LABEL];
  if (type === undefined) return undefined;
  const isSandbox = type === 'podsandbox';
  return { isSandbox, sandboxId: isSandbox ? id : (labels?.[SANDBOX_ID_LABEL] ?? '') };
}

export class DockerEventWatcher {
  readonly #engine: DockerEngine;
  readonly #logger: Logger;
  readonly #onEvent: (e: DockerContainerEvent) => void;
  readonly #abort = new AbortController();
  readonly #known = new Map<string, Known>();
  /** The time of the last event seen, and which events (id, action) carried it. */
  #lastNs = 0n;
  #seenAtLast = new Set<string>();
  /** Containers the container list reported on: their older events, replayed by since=, are stale. */
  #listedAt = new Map<string, bigint>();
  #running: Promise<void> | undefined;

  constructor(options: DockerEventWatcherOptions) {
    this.#engine = options.engine;
    this.#logger = options.logger ?? silentLogger();
    this.#onEvent = options.onEvent;
  }

  /** Resolves once the stream is open and the containers that exist are known (their past is not replayed). */
  async start(): Promise<void> {
    if (this.#running !== undefined) return;
    this.#lastNs = nowNs();
    const first = await this.#open();
    await this.#reconcile(false);
    this.#running = this.#run(first);
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  async #open(): Promise<IncomingMessage> {
    const signal = this.#abort.signal;
    return dockerCall(
      'watch the events of the Docker Engine',
      () =>
        new Promise<IncomingMessage>((resolve, reject) => {
          this.#engine.docker.modem.dial(
            {
              path: '/events?',
              method: 'GET',
              options: { since: dockerSince(this.#lastNs), filters: FILTERS },
              isStream: true,
              abortSignal: signal,
              statusCodes: { 200: true, 400: 'bad parameter', 500: 'server error' },
            },
            (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as IncomingMessage)),
          );
        }),
    );
  }

  async #run(first: IncomingMessage): Promise<void> {
    const signal = this.#abort.signal;
    let stream: IncomingMessage | undefined = first;
    let backoff = 100;
    while (!signal.aborted) {
      try {
        if (stream === undefined) {
          stream = await this.#open();
          await this.#reconcile(true);
        }
        backoff = 100;
        await this.#consume(stream);
      } catch (e) {
        if (signal.aborted) break;
        this.#logger.debug({ err: e }, 'docker event stream broke; reconnecting');
      } finally {
        stream?.destroy();
        stream = undefined;
      }
      await sleep(backoff, signal).catch(() => {});
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  }

  async #consume(stream: IncomingMessage): Promise<void> {
    let pending = '';
    try {
      for await (const chunk of stream) {
        pending += (chunk as Buffer).toString('utf8');
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) if (line.trim() !== '') this.#handle(line);
      }
    } catch (e) {
      throw dockerError('read the events of the Docker Engine', e);
    }
  }

  #handle(line: string): void {
    const ev = JSON.parse(line) as DockerEvent;
    const type = ACTIONS[ev.Action ?? ''];
    const id = ev.Actor?.ID ?? ev.id;
    if (ev.Type !== 'container' || type === undefined || id === undefined) return;
    const who = identity(ev.Actor?.Attributes, id);
    if (who === undefined) return;
    // timeNano exceeds a double's precision: read its digits from the text.
    const at = BigInt(TIME_NANO.exec(line)?.[1] ?? 0);
    const key = `${id}:${ev.Action}`;
    if (at < this.#lastNs || (at === this.#lastNs && this.#seenAtLast.has(key))) return; // seen before the reconnect
    if (at > this.#lastNs) {
      this.#lastNs = at;
      this.#seenAtLast = new Set();
    }
    this.#seenAtLast.add(key);
    if (at < (this.#listedAt.get(id) ?? 0n)) return;
    this.#emit(id, type, who, at);
  }

  /** Emits unless it is what was last said of the container (a change the list already reported). */
  #emit(containerId: string, type: DockerContainerEventType, who: { isSandbox: boolean; sandboxId: string }, at: bigint): void {
    const known = this.#known.get(containerId);
    if (known?.last === type || (known?.last === 'deleted' && type !== 'created')) return;
    this.#known.set(containerId, { last: type, ...who, deletedAt: type === 'deleted' ? Date.now() : undefined });
    try {
      this.#onEvent({ containerId, type, ...who, createdAtNs: at });
    } catch (e) {
      this.#logger.warn({ err: e, containerId }, 'container event handler failed');
    }
  }

  /**
   * Brings what is known in line with the containers that exist: the first time silently; after a
   * reconnect by emitting the changes the stream did not report (an engine that restarted forgets).
   */
  async #reconcile(report: boolean): Promise<void> {
    this.#listedAt.clear();
    const listedAt = nowNs();
    const list = await dockerCall('list containers', () =>
      this.#engine.docker.listContainers({ all: true, filters: JSON.stringify({ label: [TYPE_LABEL] }) }),
    );
    const listed = new Set<string>();
    for (const c of list) {
      listed.add(c.Id);
      const who = identity(c.Labels, c.Id);
      if (who === undefined) continue;
      const target = STATE_EVENTS[c.State];
      if (target === undefined) continue; // being removed: its destroy event follows
      const known = this.#known.get(c.Id);
      if (!report) {
        this.#known.set(c.Id, { last: target, ...who });
        continue;
      }
      if (known?.last === target) continue;
      this.#listedAt.set(c.Id, listedAt);
      await this.#reportChange(c.Id, known?.last, target, who);
    }
    for (const [id, k] of this.#known) {
      if (k.last === 'deleted') {
        if (Date.now() - (k.deletedAt ?? 0) > TOMBSTONE_MS) this.#known.delete(id);
      } else if (!listed.has(id)) {
        if (report) {
          this.#listedAt.set(id, listedAt);
          this.#emit(id, 'deleted', k, nowNs());
        } else this.#known.delete(id);
      }
    }
  }

  /** The events between what was last said and the state now, with the times Docker recorded. */
  async #reportChange(
    id: string,
    from: DockerContainerEventType | undefined,
    to: DockerContainerEventType,
    who: { isSandbox: boolean; sandboxId: string },
  ): Promise<void> {
    let info: Awaited<ReturnType<ReturnType<DockerEngine['docker']['getContainer']>['inspect']>>;
    try {
      info = await this.#engine.docker.getContainer(id).inspect();
    } catch (e) {
      if (isDockerNotFound(e)) return; // removed meanwhile: its destroy event follows on the stream
      throw dockerError(`inspect container ${id}`, e);
    }
    const times: Record<DockerContainerEventType, string> = {
      created: info.Created,
      started: info.State.StartedAt,
      stopped: info.State.FinishedAt,
      deleted: '',
    };
    // A restarted container goes from stopped back to started; otherwise the way is created → started → stopped.
    const steps =
      from === 'stopped' && to === 'started'
        ? ['started' as const]
        : ORDER.slice(from === undefined ? 0 : ORDER.indexOf(from) + 1, ORDER.indexOf(to) + 1);
    for (const step of steps) this.#emit(id, step, who, parseTimeNs(times[step]) ?? nowNs());
  }
}
