// berth pull: through berth's own streaming Pull when the runtime is berth (a progress bar per
// layer), else the plain CRI PullImage that every runtime has.
import { connectCri } from '../cri/cri-client.ts';
import { makeClient } from '../cri/grpc-service.ts';
import { Images } from '../cri-api/gen/berth/v1/images_pb.js';
import { isBerthError } from '../errors/errors.ts';
import type { Endpoints } from './command.ts';
import { humanSize } from './output/human.ts';

export interface PullAuth {
  username?: string;
  password?: string;
  auth?: string;
}

interface LayerLine {
  digest: string;
  phase: string;
  written: number;
  total: number;
}

const BAR_WIDTH = 30;

function renderLine(l: LayerLine): string {
  const short = l.digest.replace(/^sha256:/, '').slice(0, 12);
  const fraction = l.phase === 'downloading' && l.total > 0 ? Math.min(1, l.written / l.total) : ['waiting'].includes(l.phase) ? 0 : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = '='.repeat(Math.max(0, filled - 1)) + (filled > 0 ? (fraction < 1 ? '>' : '=') : '') + ' '.repeat(BAR_WIDTH - filled);
  const size = (n: number) => humanSize(n, 3);
  const amount = l.phase === 'downloading' ? `${size(l.written)}/${size(l.total)}` : size(l.total);
  return `${short}: [${bar}] ${amount.padEnd(17)} ${l.phase}`;
}

class ProgressBoard {
  #lines: LayerLine[] = [];
  #drawn = 0;
  #out: NodeJS.WriteStream;
  #last = 0;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
  }

  layers(layers: { digest: string; size: bigint }[]): void {
    this.#lines = layers.map((l) => ({ digest: l.digest, phase: 'waiting', written: 0, total: Number(l.size) }));
    this.draw(true);
  }

  update(digest: string, phase: string, written: number, total: number): void {
    for (const l of this.#lines) if (l.digest === digest) Object.assign(l, { phase, written, total });
    this.draw(phase !== 'downloading');
  }

  draw(force = false): void {
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    let text = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : '';
    for (const l of this.#lines) text += `\x1b[2K${renderLine(l)}\n`;
    this.#drawn = this.#lines.length;
    this.#out.write(text);
  }
}

export async function pullWithProgress(ep: Endpoints, image: string, auth: PullAuth | undefined, showProgress: boolean): Promise<string> {
  if (showProgress) {
    const berth = makeClient(Images, ep.image);
    const board = new ProgressBoard(process.stderr);
    try {
      let imageRef = '';
      for await (const event of berth.pull({ image, auth }, { timeoutMs: ep.timeoutMs })) {
        const e = event.event;
        if (e.case === 'resolved') board.layers(e.value.layers);
        else if (e.case === 'layer') board.update(e.value.digest, e.value.phase, Number(e.value.written), Number(e.value.total));
        else if (e.case === 'done') imageRef = e.value.imageRef;
      }
      board.draw(true);
      return imageRef;
    } catch (e) {
      // Another runtime: no streaming pull; fall back to the CRI call below.
      if (!isBerthError(e, 'unimplemented')) throw e;
    } finally {
      berth.close();
    }
  }
  const cri = connectCri(ep.runtime, ep.image);
  try {
    return (await cri.image.pullImage({ image: { image }, auth }, { timeoutMs: ep.timeoutMs })).imageRef;
  } finally {
    cri.close();
  }
}
