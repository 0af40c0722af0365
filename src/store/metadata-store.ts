// Persistent metadata in one SQLite file (node:sqlite): JSON documents by kind and id,
// written in transactions so that a killed daemon never leaves half an update.
import { DatabaseSync, type StatementSync } from 'node:sqlite';

export type Kind = 'image' | 'sandbox' | 'container' | 'name';

export class MetadataStore {
  #db: DatabaseSync;
  #get: StatementSync;
  #put: StatementSync;
  #del: StatementSync;
  #list: StatementSync;
  #depth = 0;

  constructor(file: string) {
    this.#db = new DatabaseSync(file);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = NORMAL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS objects (
        kind TEXT NOT NULL,
        id   TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (kind, id)
      ) WITHOUT ROWID;`);
    this.#get = this.#db.prepare('SELECT data FROM objects WHERE kind = ? AND id = ?');
    this.#put = this.#db.prepare(
      'INSERT INTO objects (kind, id, data) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data',
    );
    this.#del = this.#db.prepare('DELETE FROM objects WHERE kind = ? AND id = ?');
    this.#list = this.#db.prepare('SELECT data FROM objects WHERE kind = ? ORDER BY id');
  }

  get<T>(kind: Kind, id: string): T | undefined {
    const row = this.#get.get(kind, id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as T) : undefined;
  }

  put(kind: Kind, id: string, value: unknown): void {
    this.#put.run(kind, id, JSON.stringify(value, bigintReplacer));
  }

  delete(kind: Kind, id: string): void {
    this.#del.run(kind, id);
  }

  list<T>(kind: Kind): T[] {
    return (this.#list.all(kind) as { data: string }[]).map((r) => JSON.parse(r.data) as T);
  }

  /** Runs `body` atomically; nested calls join the outer transaction. */
  transaction<T>(body: () => T): T {
    if (this.#depth > 0) return body();
    this.#db.exec('BEGIN IMMEDIATE');
    this.#depth++;
    try {
      const result = body();
      this.#db.exec('COMMIT');
      return result;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      throw e;
    } finally {
      this.#depth--;
    }
  }

  close(): void {
    this.#db.close();
  }
}

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
