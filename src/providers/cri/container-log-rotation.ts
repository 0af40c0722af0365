// Container log rotation, as the kubelet's container log manager does it (container_log_manager.go):
// every monitor interval, each running container whose log is at least the maximum size is
// rotated: rotated files beyond the maximum count go (oldest first), all but the newest rotated
// file are gzipped, the log is renamed to `<log>.<YYYYMMDD-hhmmss>` and the runtime is asked to
// reopen it (CRI ReopenContainerLog). If the runtime cannot, the rename is undone and tried again
// next round. Files: the live log, the newest rotated one as it was, and `maxFiles - 2` gzipped.
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createGzip } from 'node:zlib';
import { parseQuantity } from '../../agent/quantity.ts';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import { ContainerState } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { invalidArgument } from '../../errors/errors.ts';
import type { Logger } from '../../util/logger.ts';

export interface LogRotationPolicy {
  /** A log at least this large is rotated (kubelet containerLogMaxSize, 10Mi). */
  maxSizeBytes: number;
  /** Files per container, the live one included (containerLogMaxFiles, 5; at least 2). */
  maxFiles: number;
  /** How often logs are looked at (containerLogMonitorInterval, 10 s). */
  intervalMs: number;
}

export const DEFAULT_LOG_ROTATION_POLICY: LogRotationPolicy = { maxSizeBytes: 10 * 1024 * 1024, maxFiles: 5, intervalMs: 10_000 };

const COMPRESSED = '.gz';
const TMP = '.tmp';

/** The kubelet's keys: containerLogMaxSize (a quantity: "10Mi"), containerLogMaxFiles, containerLogMonitorIntervalMs. */
export function logRotationPolicyFromConfig(config: Record<string, unknown>): LogRotationPolicy {
  const d = DEFAULT_LOG_ROTATION_POLICY;
  const bad = (key: string, problem: string) =>
    invalidArgument('bad-provider-config', `cri provider: ${key} ${problem}`, { fields: { key } });
  let maxSizeBytes = d.maxSizeBytes;
  const size = config.containerLogMaxSize;
  if (size !== undefined) {
    try {
      maxSizeBytes = parseQuantity(size as string | number);
    } catch {
      throw bad('containerLogMaxSize', `must be a quantity such as "10Mi", not ${JSON.stringify(size)}`);
    }
    if (!(maxSizeBytes > 0)) throw bad('containerLogMaxSize', 'must be positive');
  }
  const maxFiles = config.containerLogMaxFiles ?? d.maxFiles;
  if (typeof maxFiles !== 'number' || !Number.isInteger(maxFiles) || maxFiles < 2)
    throw bad('containerLogMaxFiles', 'must be an integer of at least 2');
  const intervalMs = config.containerLogMonitorIntervalMs ?? d.intervalMs;
  if (typeof intervalMs !== 'number' || !(intervalMs >= 100))
    throw bad('containerLogMonitorIntervalMs', 'must be a number of at least 100');
  return { maxSizeBytes, maxFiles, intervalMs };
}

/** The kubelet's suffix of a rotated log: Go's "20060102-150405" in local time. */
export function rotationSuffix(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}${p(date.getMonth() + 1)}${p(date.getDate())}-${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`;
}

export interface ContainerLogRotatorOptions {
  runtime: RuntimeClient;
  policy: LogRotationPolicy;
  logger: Logger;
  callTimeoutMs: number;
  now?: () => Date;
}

export class ContainerLogRotator {
  readonly #options: ContainerLogRotatorOptions;
  readonly #now: () => Date;

  constructor(options: ContainerLogRotatorOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** Rounds every interval until `signal` aborts; a failed round is logged, not fatal. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.rotateAll(signal).catch((e) => {
        if (!signal.aborted) this.#options.logger.warn({ err: e }, 'container log rotation failed');
      });
      await sleep(this.#options.policy.intervalMs, undefined, { signal }).catch(() => undefined);
    }
  }

  /** One round over the running containers; returns the IDs whose logs were rotated. */
  async rotateAll(signal: AbortSignal): Promise<string[]> {
    const { runtime, callTimeoutMs, logger, policy } = this.#options;
    const call = { signal, timeoutMs: callTimeoutMs };
    const { containers } = await runtime.listContainers({ filter: { state: { state: ContainerState.CONTAINER_RUNNING } } }, call);
    const rotated: string[] = [];
    for (const c of containers) {
      if (signal.aborted) break;
      try {
        const { status } = await runtime.containerStatus({ containerId: c.id }, call);
        const log = status?.logPath ?? '';
        if (log === '') continue;
        const size = await stat(log).then(
          (s) => s.size,
          () => -1,
        );
        if (size < policy.maxSizeBytes) continue;
        await this.rotate(c.id, log, signal);
        rotated.push(c.id);
      } catch (e) {
        if (signal.aborted) throw e;
        logger.warn({ err: e, containerId: c.id }, 'could not rotate the container log');
      }
    }
    return rotated;
  }

  /** Rotates one container's log now, whatever its size. */
  async rotate(containerId: string, log: string, signal: AbortSignal): Promise<void> {
    let rotatedLogs = await this.#rotatedLogs(log);
    rotatedLogs = await this.#removeExcess(rotatedLogs);
    for (const file of rotatedLogs) if (!file.endsWith(COMPRESSED)) await compress(file);
    const rotated = `${log}.${rotationSuffix(this.#now())}`;
    await rename(log, rotated);
    try {
      await this.#options.runtime.reopenContainerLog({ containerId }, { signal, timeoutMs: this.#options.callTimeoutMs });
    } catch (e) {
      // The runtime still writes to the renamed file: give it back its name, try next round.
      await rename(rotated, log).catch(() => undefined);
      throw e;
    }
  }

  /** `<log>.*` without temporaries and without plain files that also exist compressed (both left by a crash). */
  async #rotatedLogs(log: string): Promise<string[]> {
    const dir = path.dirname(log);
    const prefix = `${path.basename(log)}.`;
    const names = (await readdir(dir)).filter((n) => n.startsWith(prefix));
    const keep: string[] = [];
    for (const name of names) {
      const file = path.join(dir, name);
      if (name.endsWith(TMP) || (!name.endsWith(COMPRESSED) && names.includes(`${name}${COMPRESSED}`))) await rm(file, { force: true });
      else keep.push(file);
    }
    return keep.sort();
  }

  /** Leaves room for the live log and the one about to be rotated: at most maxFiles - 2 older ones. */
  async #removeExcess(files: string[]): Promise<string[]> {
    const excess = files.length - (this.#options.policy.maxFiles - 2);
    for (const file of files.slice(0, Math.max(0, excess))) await rm(file, { force: true });
    return files.slice(Math.max(0, excess));
  }
}

async function compress(file: string): Promise<void> {
  const tmp = `${file}${COMPRESSED}${TMP}`;
  await pipeline(createReadStream(file), createGzip(), createWriteStream(tmp, { mode: 0o640 }));
  await rename(tmp, `${file}${COMPRESSED}`);
  await rm(file, { force: true });
}
