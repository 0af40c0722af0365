// ChainIDs name a stack of layers (OCI image spec, config.md): the snapshot of layer n
// is identified by its own diffID and those of every layer below it.
import { type Digest, sha256Digest } from './digest.ts';

export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const diffId of diffIds) {
    const parent = out.at(-1);
    out.push(parent === undefined ? diffId : sha256Digest(`${parent} ${diffId}`));
  }
  return out;
}
