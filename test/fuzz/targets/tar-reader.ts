// The layer tar reader over arbitrary bytes, in one piece and in small chunks.
import { type TarEntry, TarReader } from '../../../src/image/layer-tar-reader.ts';
import type { FuzzTarget } from '../engine.ts';
import { invariant, refusalOrResult, words } from '../expect.ts';
import { layerSeeds } from './layer-seeds.ts';

function* chunks(input: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < input.length; i += size) yield input.subarray(i, i + size);
}

async function readAll(source: Iterable<Buffer>): Promise<void> {
  const reader = new TarReader(
    (async function* () {
      yield* source;
    })(),
  );
  let entry: TarEntry | undefined;
  for (;;) {
    entry = await reader.next();
    if (!entry) break;
    invariant(Number.isSafeInteger(entry.size) && entry.size >= 0, `entry size ${entry.size}`);
    invariant(entry.mode >= 0 && entry.mode <= 0o7777, `entry mode ${entry.mode}`);
    invariant(entry.kind === 'file' || entry.size === 0, `a ${entry.kind} entry with ${entry.size} bytes of data`);
    let got = 0;
    for await (const c of reader.data()) got += c.length;
    invariant(got === entry.size, `read ${got} of ${entry.size} bytes`);
  }
  await reader.drain();
}

export const tarReaderTarget: FuzzTarget = {
  name: 'layer-tar-reader',
  cover: ['/src/image/layer-tar-reader'],
  maxLength: 16 * 1024,
  dictionary: words(
    'ustar\x0000',
    'ustar  \x00',
    '././@LongLink',
    'SCHILY.xattr.',
    'path=',
    'linkpath=',
    'size=',
    'uid=',
    'mtime=',
    '0000644\x00',
    '\x80\x00\x00\x00',
  ),
  seeds: layerSeeds,
  async run(input) {
    await refusalOrResult(() => readAll([input]));
    await refusalOrResult(() => readAll(chunks(input, 61)));
  },
};
