// The CRI log file of a Docker container, written by the dockershim from Docker's log stream (as
// conmon writes it for berth daemon), so that the kubelet can read and rotate it: cri-dockerd only
// symlinks Docker's json-file log, which the kubelet cannot reopen. One follower per container
// appends `<time> <stream> <P|F> <text>` records; it resumes with `since=` the last time in the file
// (also after a restart of the dockershim or of the engine) and skips the records already written.

import { type FileHandle, mkdir, open, readdir, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { failedPrecondition } from '../errors/errors.ts';
import { type Logger, silentLogger } from '../util/logger.ts';
import { sleep } from '../util/sleep.ts';
import { type DockerEngine, dockerCall, dockerError, isDockerNotFound } from './docker-engine.ts';
import { LOG_PATH_LABEL } from './docker-labels.ts';
import { criLogLine, DockerLogDecoder, dockerSince, type LogRecord, parseTimeNs } from './docker-log-decoder.ts';

export interface DockerLogForwarderOptions {
  engine: DockerEngine;
  logger?: Logger;
}

/** The last time written and how many records carry it: where a new stream resumes. */
interface ResumePoint {
  timeNs: bigint;
  count: number;
}

const TAIL_BYTES = 64 * 1024;
const RECORD_TIME = /^(\S+) (?:stdout|stderr) [PF] /;
const MAX_BACKOFF_MS = 2000;

/** The resume point in the last records of a CRI log file; undefined when it has none. */
async function resumePointOf(file: string): Promise<ResumePoint | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const { size } = await fh.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    const lines = buf
      .toString('utf8')
      .split('\n')
      .slice(length < size ? 1 : 0, -1); // whole lines only
    let point: ResumePoint | undefined;
    for (let i = lines.length - 1; i >= 0; i--) {
      const t = parseTimeNs(RECORD_TIME.exec(lines[i]!)?.[1] ?? '');
      if (t === undefined) continue;
      if (point === undefined) point = { timeNs: t, count: 1 };
      else if (t === point.timeNs) point.count++;
      else break;
    }
    return point;
  } finally {
    await fh.close();
  }
}

/**
 * Where to resume for `logPath`: its own last records, else those of the newest file the kubelet
 * rotated it to (`0.log.20261204-200050`; compressed ones are older), so that a restart right after
 * a rotation repeats nothing.
 */
async function resumePointFor(logPath: string): Promise<ResumePoint | undefined> {
  const own = await resumePointOf(logPath);
  if (own !== undefined) return own;
  const dir = path.dirname(logPath);
  const prefix = `${path.basename(logPath)}.`;
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix) && !n.endsWith('.gz'));
  const dated = await Promise.all(
    names.map(async (n) => ({ n, mtime: (await stat(path.join(dir, n)).catch(() => undefined))?.mtimeMs ?? 0 })),
  );
  dated.sort((a, b) => b.mtime - a.mtime);
  return dated[0] && resumePointOf(path.join(dir, dated[0].n));
}

async function openLog(logPath: string): Promise<FileHandle> {
  await mkdir(path.dirname(logPath), { recursive: true });
  return open(logPath, 'a', 0o640);
}

/** One container's follower: a loop of log streams until the container is gone or has ended. */
class LogFollower {
  readonly containerId: string;
  readonly logPath: string;
  readonly done: Promise<void>;
  readonly #engine: DockerEngine;
  readonly #tty: boolean;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  #file: FileHandle;
  #resume: ResumePoint | undefined;
  /** File operations (writes, reopen) one after the other. */
  #fileQueue: Promise<unknown> = Promise.resolve();
  #ended = false;

  private constructor(
    engine: DockerEngine,
    containerId: string,
    logPath: string,
    tty: boolean,
    logger: Logger,
    file: FileHandle,
    resume?: ResumePoint,
  ) {
    this.#engine = engine;
    this.containerId = containerId;
    this.logPath = logPath;
    this.#tty = tty;
    this.#logger = logger;
    this.#file = file;
    this.#resume = resume;
    this.done = this.#run().finally(() => {
      this.#ended = true;
      return this.#onFile(() => this.#file.close());
    });
  }

  static async start(engine: DockerEngine, containerId: string, logPath: string, tty: boolean, logger: Logger): Promise<LogFollower> {
    const resume = await resumePointFor(logPath);
    const file = await openLog(logPath);
    return new LogFollower(engine, containerId, logPath, tty, logger, file, resume);
  }

  get ended(): boolean {
    return this.#ended;
  }

  stop(): Promise<void> {
    this.#abort.abort();
    return this.done;
  }

  /** Closes the file and opens it again at its path (the kubelet renamed it); records wait meanwhile. */
  reopen(): Promise<void> {
    return this.#onFile(async () => {
      await this.#file.close();
      this.#file = await openLog(this.logPath);
    });
  }

  #onFile<T>(op: () => Promise<T>): Promise<T> {
    const next = this.#fileQueue.then(op);
    this.#fileQueue = next.catch(() => {});
    return next;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    let backoff = 100;
    const pause = async (): Promise<void> => {
      await sleep(backoff, signal).catch(() => {});
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    };
    while (!signal.aborted) {
      let running: boolean;
      try {
        const info = await dockerCall(`inspect container ${this.containerId}`, () =>
          this.#engine.docker.getContainer(this.containerId).inspect(),
        );
        running = info.State.Running;
      } catch (e) {
        if (isDockerNotFound(e)) return;
        this.#logger.debug({ err: e, containerId: this.containerId }, 'log follower waits for the engine');
        await pause();
        continue;
      }
      try {
        await this.#pass(running, signal);
        backoff = 100;
        if (!running) return; // everything up to the container's end is written
        await sleep(50, signal).catch(() => {});
      } catch (e) {
        if (signal.aborted) return;
        this.#logger.debug({ err: e, containerId: this.containerId }, 'log stream broke; resuming');
        await pause();
      }
    }
  }

  /** One log stream from the resume point: following while the container runs, else to its end. */
  async #pass(follow: boolean, signal: AbortSignal): Promise<void> {
    const options: Record<string, unknown> = { follow, stdout: true, stderr: true, timestamps: true };
    if (this.#resume !== undefined) options.since = dockerSince(this.#resume.timeNs);
    const res = await dockerCall(
      `read the log of container ${this.containerId}`,
      () =>
        new Promise<IncomingMessage>((resolve, reject) => {
          this.#engine.docker.modem.dial(
            {
              path: `/containers/${this.containerId}/logs?`,
              method: 'GET',
              options,
              isStream: true,
              abortSignal: signal,
              statusCodes: { 200: true, 404: 'no such container', 500: 'server error', 501: 'log driver cannot be read' },
            },
            (err: unknown, data: unknown) => (err ? reject(err) : resolve(data as IncomingMessage)),
          );
        }),
    );
    const decoder = new DockerLogDecoder(this.#tty);
    // Records at the resume time that this stream repeats: as many as were written with that time.
    const repeat = { left: this.#resume?.count ?? 0 };
    try {
      for await (const chunk of res) await this.#write(decoder.push(chunk as Buffer), repeat);
    } catch (e) {
      // A broken stream drops its unfinished message: the next stream sends it again whole.
      res.destroy();
      throw dockerError(`read the log of container ${this.containerId}`, e);
    }
    await this.#write(decoder.end(), repeat);
  }

  #isNew(r: LogRecord, repeat: { left: number }): boolean {
    const last = this.#resume;
    if (last !== undefined && r.timeNs < last.timeNs) return false;
    if (last !== undefined && r.timeNs === last.timeNs) {
      if (repeat.left > 0) {
        repeat.left--;
        return false;
      }
      last.count++;
      return true;
    }
    this.#resume = { timeNs: r.timeNs, count: 1 };
    repeat.left = 0;
    return true;
  }

  async #write(records: LogRecord[], repeat: { left: number }): Promise<void> {
    const fresh = records.filter((r) => this.#isNew(r, repeat));
    if (fresh.length === 0) return;
    const data = Buffer.concat(fresh.map(criLogLine));
    await this.#onFile(async () => {
      for (let off = 0; off < data.length; ) off += (await this.#file.write(data, off)).bytesWritten;
    });
  }
}

export class DockerLogForwarder {
  readonly #engine: DockerEngine;
  readonly #logger: Logger;
  readonly #followers = new Map<string, LogFollower>();
  readonly #starting = new Map<string, Promise<LogFollower>>();

  constructor(options: DockerLogForwarderOptions) {
    this.#engine = options.engine;
    this.#logger = options.logger ?? silentLogger();
  }

  /**
   * Starts writing the container's log to `logPath` (a running container: call it after start).
   * Idempotent: a container already followed keeps its follower.
   */
  async follow(containerId: string, logPath: string, tty: boolean): Promise<void> {
    await this.#follower(containerId, logPath, tty);
  }

  async #follower(containerId: string, logPath: string, tty: boolean): Promise<LogFollower> {
    const current = this.#followers.get(containerId);
    if (current !== undefined && !current.ended) return current;
    const pending = this.#starting.get(containerId);
    if (pending !== undefined) return pending;
    const starting = LogFollower.start(this.#engine, containerId, logPath, tty, this.#logger.child({ containerId }));
    this.#starting.set(containerId, starting);
    try {
      const f = await starting;
      this.#followers.set(containerId, f);
      return f;
    } finally {
      this.#starting.delete(containerId);
    }
  }

  /**
   * ReopenContainerLog: the file at the log path is closed and opened anew (the kubelet has renamed
   * it). A running container that is not followed (the dockershim restarted) gets its follower, from
   * its log path label.
   */
  async reopen(containerId: string): Promise<void> {
    const info = await dockerCall(`inspect container ${containerId}`, () => this.#engine.docker.getContainer(containerId).inspect());
    if (!info.State.Running) {
      throw failedPrecondition('container-not-running', `container ${containerId} is not running`, { fields: { containerId } });
    }
    const current = this.#followers.get(containerId);
    if (current !== undefined && !current.ended) return current.reopen();
    const logPath = info.Config.Labels?.[LOG_PATH_LABEL];
    if (!logPath) {
      throw failedPrecondition('docker-log-path-missing', `container ${containerId} has no log path label (${LOG_PATH_LABEL})`, {
        fields: { containerId },
      });
    }
    await this.#follower(containerId, logPath, info.Config.Tty === true);
  }

  /** Resolves when the container's follower has written the last bytes of the ended container. */
  async waitDrained(containerId: string): Promise<void> {
    const f = await (this.#starting.get(containerId) ?? this.#followers.get(containerId));
    await f?.done;
  }

  /** Stops following the container (its file stays). */
  async stop(containerId: string): Promise<void> {
    const f = await (this.#starting.get(containerId) ?? this.#followers.get(containerId));
    this.#followers.delete(containerId);
    await f?.stop();
  }

  async close(): Promise<void> {
    const ids = new Set([...this.#followers.keys(), ...this.#starting.keys()]);
    await Promise.all([...ids].map((id) => this.stop(id)));
  }
}
