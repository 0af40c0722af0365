// Runs one exec or attach session: the client's streams (any transport) joined to the process's
// (any backend), resizes passed on, the outcome reported, and everything torn down when the
// client goes away first.
import type { Readable, Writable } from 'node:stream';
import type { Logger } from '../util/logger.ts';
import type { CommandOutcome, RemoteCommandStreams, TerminalSize } from './remote-command.ts';

/** A process (or an attach to one) as the streaming server drives it. */
export interface StreamProcess {
  /** Where the client's input goes; end() closes the process's stdin. */
  readonly stdin?: Writable;
  readonly stdout?: Readable;
  readonly stderr?: Readable;
  /** Sets the terminal size; best effort, never throws (a session that ended ignores it). */
  resize(size: TerminalSize): void;
  /**
   * Settles when the process ended: the exit code for exec, undefined for attach (the container
   * ended or detached). Rejects when it could not run at all (the runtime refused, no such container).
   */
  readonly done: Promise<number | undefined>;
  /** Kills what runs and removes what was made for it; idempotent. */
  kill(): Promise<void>;
}

/** After the process ended, how long output may still trickle in without a byte before it is cut. */
const OUTPUT_IDLE_AFTER_EXIT_MS = 1000;

/** Resolves when `r` ended; after `exited` fires, also when no data came for OUTPUT_IDLE_AFTER_EXIT_MS. */
function drained(r: Readable | undefined, exited: Promise<unknown>): Promise<void> {
  if (!r) return Promise.resolve();
  return new Promise((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let afterExit = false;
    const finish = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        r.destroy();
        finish();
      }, OUTPUT_IDLE_AFTER_EXIT_MS);
    };
    r.on('data', () => {
      if (afterExit) arm();
    });
    r.once('end', finish);
    r.once('close', finish);
    r.once('error', finish);
    exited.then(
      () => {
        afterExit = true;
        arm();
      },
      () => {
        afterExit = true;
        arm();
      },
    );
  });
}

function copyOut(from: Readable | undefined, to: Writable | undefined): void {
  if (!from) return;
  if (!to) {
    from.resume(); // the client did not ask for it: drop it
    return;
  }
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
  to.on('close', () => from.resume());
}

/** The first terminal size the client reports, if it comes within `ms`. */
function firstSize(streams: RemoteCommandStreams, ms: number): Promise<TerminalSize | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    streams.onResize((size) => {
      clearTimeout(timer);
      resolve(size);
    });
  });
}

export interface RunRemoteCommandOptions {
  /**
   * Wait this long for the client's first terminal size before starting, so that a TTY process
   * starts with it (clients send it right after setting up their streams).
   */
  awaitSizeMs?: number;
}

export async function runRemoteCommand(
  streams: RemoteCommandStreams,
  start: (size: TerminalSize | undefined) => Promise<StreamProcess>,
  log: Logger,
  options: RunRemoteCommandOptions = {},
): Promise<CommandOutcome | undefined> {
  if (streams.disconnected.aborted) return undefined;
  let proc: StreamProcess;
  try {
    const size = options.awaitSizeMs ? await firstSize(streams, options.awaitSizeMs) : undefined;
    proc = await start(size);
  } catch (e) {
    const outcome: CommandOutcome = { kind: 'error', message: (e as Error).message };
    await streams.finish(outcome).catch(() => {});
    return outcome;
  }
  const onDisconnect = (): void => {
    log.debug('client went away; stopping the session');
    void proc.kill();
  };
  streams.disconnected.addEventListener('abort', onDisconnect, { once: true });
  if (streams.disconnected.aborted) onDisconnect();

  // stdin: client → process; the client's end closes the process's stdin.
  if (streams.stdin) {
    const input = streams.stdin;
    if (proc.stdin) {
      const target = proc.stdin;
      target.on('error', () => input.resume());
      input.on('data', (chunk: Buffer) => {
        if (target.destroyed || target.writableEnded) return;
        if (!target.write(chunk)) {
          input.pause();
          target.once('drain', () => input.resume());
        }
      });
      input.once('end', () => {
        if (!target.destroyed && !target.writableEnded) target.end();
      });
    } else {
      input.resume();
    }
  }
  copyOut(proc.stdout, streams.stdout);
  copyOut(proc.stderr, streams.stderr);
  streams.onResize((size) => proc.resize(size));

  let outcome: CommandOutcome;
  const exited = proc.done;
  try {
    const [code] = await Promise.all([exited, drained(proc.stdout, exited), drained(proc.stderr, exited)]);
    outcome = code === undefined || code === 0 ? { kind: 'success' } : { kind: 'exit', code };
  } catch (e) {
    outcome = { kind: 'error', message: (e as Error).message };
  }
  streams.disconnected.removeEventListener('abort', onDisconnect);
  if (proc.stdin && !proc.stdin.destroyed) proc.stdin.destroy();
  await proc.kill();
  if (streams.disconnected.aborted) return undefined;
  await streams.finish(outcome).catch((e: unknown) => log.debug({ err: e }, 'cannot finish the session'));
  return outcome;
}
