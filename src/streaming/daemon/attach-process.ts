// Attach: the container's conmon serves its stdio on the `attach` socket in the bundle (see
// seqpacket-relay.ts); resizing goes through the `ctl` fifo beside it. The attach ends when the
// container exits (conmon closes the socket) or the client leaves.

import { internal } from '../../errors/errors.ts';
import type { StreamProcess } from '../run-remote-command.ts';
import { resizeConmonTerminal } from './conmon-ctl.ts';
import { spawnSeqpacketRelay } from './seqpacket-relay.ts';

export interface AttachTarget {
  containerId: string;
  bundle: string;
  /** The container runs on a terminal (its output is all on stdout). */
  tty: boolean;
}

export async function startAttach(target: AttachTarget, options: { stdin: boolean }): Promise<StreamProcess> {
  const relay = spawnSeqpacketRelay(target.bundle, 'attach', { stdin: options.stdin });
  try {
    await relay.connected;
  } catch (e) {
    relay.child.kill('SIGKILL');
    throw internal('attach-failed', `cannot attach to container ${target.containerId}: ${(e as Error).message}`);
  }
  const child = relay.child;
  child.stdin?.on('error', () => {});
  const done = new Promise<undefined>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(undefined);
    else child.once('exit', () => resolve(undefined));
  });
  let killed: Promise<void> | undefined;
  return {
    stdin: child.stdin ?? undefined,
    stdout: child.stdout!,
    stderr: child.stderr!,
    resize: (size) => {
      if (target.tty) void resizeConmonTerminal(target.bundle, size);
    },
    done,
    kill: () => {
      killed ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await done;
      })();
      return killed;
    },
  };
}
