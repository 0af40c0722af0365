import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { rewriteHeaderBlock } from './authority-rewrite.ts';

interface Header {
  name: string;
  value: string;
}
interface Hpack {
  compressor: { create(o: { table: { size: number } }): { write(h: Header[]): void; read(): Buffer } };
  decompressor: { create(o: { table: { size: number } }): { write(b: Buffer): void; execute(): void; read(): Header | null } };
}
const hpack = createRequire(import.meta.url)('hpack.js') as Hpack;

function decode(block: Buffer): Header[] {
  const d = hpack.decompressor.create({ table: { size: 4096 } });
  d.write(block);
  d.execute();
  const out: Header[] = [];
  for (let h = d.read(); h !== null; h = d.read()) out.push({ name: h.name, value: h.value });
  return out;
}

test('a socket path as :authority becomes a valid value of the same length; other headers stay', () => {
  const c = hpack.compressor.create({ table: { size: 4096 } });
  c.write([
    { name: ':method', value: 'POST' },
    { name: ':authority', value: '/run/berth/berth.sock' },
    { name: 'content-type', value: 'application/grpc' },
  ]);
  const block = c.read();
  const fixed = rewriteHeaderBlock(block);
  assert.ok(fixed);
  assert.deepEqual(decode(fixed), [
    { name: ':method', value: 'POST' },
    { name: ':authority', value: '-run-berth-berth.sock' },
    { name: 'content-type', value: 'application/grpc' },
  ]);
});

test('a valid :authority needs no change', () => {
  const c = hpack.compressor.create({ table: { size: 4096 } });
  c.write([{ name: ':authority', value: 'localhost' }]);
  assert.equal(rewriteHeaderBlock(c.read()), undefined);
});
