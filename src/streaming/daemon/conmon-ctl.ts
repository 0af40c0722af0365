// conmon's control fifo (`ctl` in the directory it was given as bundle): "<type> <height> <width>\n"
// lines; type 1 resizes the terminal conmon holds.
import { constants as fsConstants } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { TerminalSize } from '../remote-command.ts';

const WIN_RESIZE_EVENT = 1;

/**
 * Asks the conmon serving `dir` to resize its terminal. False when nobody listens any more (the
 * session or the container ended) or the size is not one a terminal can take.
 */
export async function resizeConmonTerminal(dir: string, size: TerminalSize): Promise<boolean> {
  if (size.width <= 0 || size.height <= 0) return false;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // Non-blocking: with conmon gone the open fails with ENXIO instead of hanging.
    fh = await open(path.join(dir, 'ctl'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    await fh.write(`${WIN_RESIZE_EVENT} ${size.height} ${size.width}\n`);
    return true;
  } catch {
    return false;
  } finally {
    await fh.close().catch(() => {});
  }
}
