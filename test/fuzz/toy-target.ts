// A target with a defect behind a four-byte magic, compared byte by byte: blind mutation would
// need about 2^32 tries, coverage guidance a few thousand. The engine's own test uses it.
import type { FuzzTarget } from './engine.ts';

export function planted(input: Buffer): void {
  if (input[0] === 0x46) {
    if (input[1] === 0x55) {
      if (input[2] === 0x5a) {
        if (input[3] === 0x5a) throw new Error('planted defect reached');
      }
    }
  }
}

export const toyTarget: FuzzTarget = {
  name: 'toy',
  cover: ['/test/fuzz/toy-target'],
  maxLength: 64,
  seeds: () => [Buffer.from('seed')],
  run: planted,
};
