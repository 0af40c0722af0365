import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { test } from 'node:test';
import type { Logger } from '../util/logger.ts';
import { MetadataStore, RECORD_SHAPES } from './metadata-store.ts';

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

test('corrupt rows (not JSON, null, the wrong shape) are moved to the quarantine table and logged', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'berth-store-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'meta.db');
  const good = {
    id: 'c1',
    sandboxId: 'p1',
    name: 'k8s_c',
    state: 'running',
    createdAt: '1',
    startedAt: '2',
    finishedAt: '0',
    metadata: { name: 'c', attempt: 0 },
    labels: {},
    image: {},
  };
  const db = new DatabaseSync(file);
  db.exec('CREATE TABLE objects (kind TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID');
  const insert = db.prepare('INSERT INTO objects (kind, id, data) VALUES (?, ?, ?)');
  insert.run('container', 'c1', JSON.stringify(good));
  insert.run('container', 'c2', '{"id": "c2", trunc');
  insert.run('container', 'c3', 'null');
  insert.run('container', 'c4', JSON.stringify({ ...good, id: 'c4', createdAt: undefined }));
  db.close();
  const logged: unknown[] = [];
  const logger = { error: (obj: unknown) => logged.push(obj) } as unknown as Logger;
  const s = new MetadataStore(file, { logger, shapes: RECORD_SHAPES });
  assert.deepEqual(
    s.list<{ id: string }>('container').map((c) => c.id),
    ['c1'],
  );
  assert.deepEqual(
    logged.map((l) => (l as { id: string }).id),
    ['c2', 'c3', 'c4'],
  );
  assert.match(String((logged[2] as { problem: string }).problem), /createdAt/);
  assert.equal(s.get('container', 'c2'), undefined);
  s.close();
  const check = new DatabaseSync(file);
  const quarantined = check.prepare('SELECT id, reason FROM quarantine ORDER BY id').all() as { id: string; reason: string }[];
  assert.deepEqual(
    quarantined.map((q) => q.id),
    ['c2', 'c3', 'c4'],
  );
  assert.match(quarantined[1]!.reason, /null/);
  check.close();
});
