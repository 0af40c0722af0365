import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { MetadataStore } from './metadata-store.ts';

test('documents survive reopening, and a failed transaction changes nothing', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'meta.db');
  let s = new MetadataStore(file);
  s.put('image', 'a', { tags: ['x'] });
  s.put('image', 'b', { tags: [] });
  assert.throws(() =>
    s.transaction(() => {
      s.put('image', 'c', {});
      s.delete('image', 'a');
      throw new Error('abort');
    }),
  );
  s.close();
  s = new MetadataStore(file);
  assert.deepEqual(s.get('image', 'a'), { tags: ['x'] });
  assert.equal(s.get('image', 'c'), undefined);
  assert.equal(s.list('image').length, 2);
  s.delete('image', 'a');
  assert.equal(s.get('image', 'a'), undefined);
  s.close();
});
