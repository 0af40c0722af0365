// Where berth's pull time goes: one more cold pull of the big image through berth's own streaming
// pull (berth.v1 Images), whose layer events say when each layer started and finished downloading
// and unpacking. Not a headline figure (containerd has no such stream); it explains one.

import { makeClient } from '../src/cri/grpc-service.ts';
import { Images } from '../src/cri-api/gen/berth/v1/images_pb.js';
import type { RuntimeUnderTest } from './runtime-under-test.ts';
import { nowMs, round } from './stats.ts';

export interface PullTimeline {
  totalS: number;
  /** From the start of the call to the manifest being resolved. */
  resolvedS: number;
  /** From the first byte of a layer downloading to the last layer downloaded. */
  downloadS: number;
  /** From the first layer unpacking to the last layer done. */
  unpackS: number;
  /** Each layer: seconds from the start to downloaded, to unpacking, to done. */
  layers: { digest: string; downloadedS?: number; unpackingS?: number; doneS?: number }[];
}

export async function berthPullTimeline(rt: RuntimeUnderTest, image: string): Promise<PullTimeline> {
  const client = makeClient(Images, rt.endpoint);
  try {
    await rt.cri.image.removeImage({ image: { image } }, { timeoutMs: 120_000 }).catch(() => undefined);
    const t0 = nowMs();
    const at = () => round((nowMs() - t0) / 1000, 3);
    let resolvedS = 0;
    const layers = new Map<string, { digest: string; downloadingS?: number; downloadedS?: number; unpackingS?: number; doneS?: number }>();
    for await (const event of client.pull({ image }, { timeoutMs: 900_000 })) {
      if (event.event.case === 'resolved') resolvedS = at();
      if (event.event.case !== 'layer') continue;
      const { digest, phase } = event.event.value;
      const layer = layers.get(digest) ?? { digest };
      layers.set(digest, layer);
      if (phase === 'downloading') layer.downloadingS ??= at();
      if (phase === 'downloaded' || phase === 'exists') layer.downloadedS ??= at();
      if (phase === 'unpacking') layer.unpackingS ??= at();
      if (phase === 'done') layer.doneS = at();
    }
    const totalS = at();
    await rt.cri.image.removeImage({ image: { image } }, { timeoutMs: 120_000 }).catch(() => undefined);
    const list = [...layers.values()];
    const times = (pick: (l: (typeof list)[number]) => number | undefined) => list.map(pick).filter((t): t is number => t !== undefined);
    const span = (from: number[], to: number[]) => (from.length > 0 && to.length > 0 ? round(Math.max(...to) - Math.min(...from), 2) : 0);
    return {
      totalS: round(totalS, 2),
      resolvedS,
      downloadS: span(
        times((l) => l.downloadingS),
        times((l) => l.downloadedS),
      ),
      unpackS: span(
        times((l) => l.unpackingS),
        times((l) => l.doneS),
      ),
      layers: list.map(({ digest, downloadedS, unpackingS, doneS }) => ({ digest: digest.slice(0, 19), downloadedS, unpackingS, doneS })),
    };
  } finally {
    client.close();
  }
}
