// Persistent metadata in one SQLite file (node:sqlite): JSON documents by kind and id,
// written in transactions so that a killed daemon never leaves half an update. A row that does
// not read back as a record (not JSON, null, the wrong shape) is moved to a quarantine table with
// a log line: one bad row must not stop the daemon or fail every list.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Logger } from '../util/logger.ts';

export type Kind = 'image' | 'sandbox' | 'container' | 'name';

/** What is wrong with a parsed record, or undefined when it may be used. */
export type ShapeCheck = (value: Record<string, unknown>) => string | undefined;

export interface MetadataStoreOptions {
  /** Hears of every quarantined row. */
  logger?: Logger;
  /** Checks per kind beyond "a JSON object". */
  shapes?: Partial<Record<Kind, ShapeCheck>>;
}

function fieldsCheck(spec: Record<string, 'string' | 'decimal' | 'number' | 'object' | 'array'>): ShapeCheck {
  return (v) => {
    for (const [key, type] of Object.entries(spec)) {
      const f = v[key];
      const ok =
        type === 'decimal'
          ? typeof f === 'string' && /^\d+$/.test(f)
          : type === 'array'
            ? Array.isArray(f)
            : type === 'object'
              ? typeof f === 'object' && f !== null && !Array.isArray(f)
              : typeof f === type;
      if (!ok)
        return `field ${key} is not ${type === 'decimal' ? 'a decimal string' : `a${type === 'object' || type === 'array' ? 'n' : ''} ${type}`}`;
    }
    return undefined;
  };
}

/** The fields the daemon's records cannot do without (pods, containers, images). */
export const RECORD_SHAPES: Partial<Record<Kind, ShapeCheck>> = {
  sandbox: fieldsCheck({ id: 'string', name: 'string', state: 'string', createdAt: 'decimal', metadata: 'object', labels: 'object' }),
  container: fieldsCheck({
    id: 'string',
    sandboxId: 'string',
    name: 'string',
    state: 'string',
    createdAt: 'decimal',
    startedAt: 'decimal',
    finishedAt: 'decimal',
    metadata: 'object',
    labels: 'object',
    image: 'object',
  }),
  image: fieldsCheck({ id: 'string', repoTags: 'array', repoDigests: 'array', layers: 'array', chainIds: 'array' }),
};

export class MetadataStore {
  #db: DatabaseSync;
  #get: StatementSync;
  #put: StatementSync;
  #del: StatementSync;
  #list: StatementSync;
  #quarantine: StatementSync;
  #depth = 0;
  readonly #options: MetadataStoreOptions;

  constructor(file: string, options: MetadataStoreOptions = {}) {
    this.#options = options;
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
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS quarantine (
        kind   TEXT NOT NULL,
        id     TEXT NOT NULL,
        data   TEXT NOT NULL,
        reason TEXT NOT NULL,
        at     TEXT NOT NULL
      );`);
    this.#get = this.#db.prepare('SELECT data FROM objects WHERE kind = ? AND id = ?');
    this.#put = this.#db.prepare(
      'INSERT INTO objects (kind, id, data) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET data = excluded.data',
    );
    this.#del = this.#db.prepare('DELETE FROM objects WHERE kind = ? AND id = ?');
    this.#list = this.#db.prepare('SELECT id, data FROM objects WHERE kind = ? ORDER BY id');
    this.#quarantine = this.#db.prepare('INSERT INTO quarantine (kind, id, data, reason, at) VALUES (?, ?, ?, ?, ?)');
  }

  /** The record in `data`, or undefined after moving the row to the quarantine. */
  #read<T>(kind: Kind, id: string, data: string): T | undefined {
    let value: unknown;
    let problem: string | undefined;
    try {
      value = JSON.parse(data);
    } catch (e) {
      problem = `not JSON: ${(e as Error).message}`;
    }
    if (problem === undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
      problem = `not a JSON object: ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`;
    }
    problem ??= this.#options.shapes?.[kind]?.(value as Record<string, unknown>);
    if (problem === undefined) return value as T;
    this.transaction(() => {
      this.#quarantine.run(kind, id, data, problem, new Date().toISOString());
      this.#del.run(kind, id);
    });
    this.#options.logger?.error({ kind, id, problem }, 'corrupt metadata row moved to the quarantine table');
    return undefined;
  }

  get<T>(kind: Kind, id: string): T | undefined {
    const row = this.#get.get(kind, id) as { data: string } | undefined;
    return row ? this.#read<T>(kind, id, row.data) : undefined;
  }

  put(kind: Kind, id: string, value: unknown): void {
    this.#put.run(kind, id, JSON.stringify(value, bigintReplacer));
  }

  delete(kind: Kind, id: string): void {
    this.#del.run(kind, id);
  }

  list<T>(kind: Kind): T[] {
    const out: T[] = [];
    for (const r of this.#list.all(kind) as { id: string; data: string }[]) {
      const value = this.#read<T>(kind, r.id, r.data);
      if (value !== undefined) out.push(value);
    }
    return out;
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
