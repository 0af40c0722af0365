import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ERROR_CODES, type ErrorCode, isErrorCode, kindsOf } from './error-codes.ts';
import type { ErrorKind } from './error-kind.ts';

const SRC = path.join(import.meta.dirname, '..');

/** Where a plain Error is right: the base class, and the ServiceError handed to grpc-js (never thrown in berth). */
const ALLOWED_PLAIN_ERRORS = [
  { file: 'cri/grpc-service.ts', text: 'Object.assign(new Error(error.message), {' },
  { file: 'errors/errors.ts', text: 'export class BerthError extends Error {' },
];

const FACTORY_KINDS: Record<string, ErrorKind> = {
  invalidArgument: 'invalid-argument',
  notFound: 'not-found',
  alreadyExists: 'already-exists',
  failedPrecondition: 'failed-precondition',
  deadlineExceeded: 'deadline-exceeded',
  unavailable: 'unavailable',
  unauthenticated: 'unauthenticated',
  permissionDenied: 'permission-denied',
  resourceExhausted: 'resource-exhausted',
  unimplemented: 'unimplemented',
  cancelled: 'cancelled',
  internal: 'internal',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && !f.endsWith('.suite.ts') && !f.startsWith(`cri${path.sep}gen`))
    .map((f) => f.split(path.sep).join('/'))
    .sort();
}

const files = sourceFiles(SRC).map((file) => ({ file, text: readFileSync(path.join(SRC, file), 'utf8') }));

/** `kind` and `code` of every factory call, `new BerthError(…)` and `super(…)` whose code is a literal. */
function literalUses(text: string): { kind: ErrorKind; code: string }[] {
  const uses: { kind: ErrorKind; code: string }[] = [];
  const factory = new RegExp(`\\b(${Object.keys(FACTORY_KINDS).join('|')})\\(\\s*'([^']*)'`, 'g');
  for (const m of text.matchAll(factory)) uses.push({ kind: FACTORY_KINDS[m[1]!]!, code: m[2]! });
  for (const m of text.matchAll(/(?:new BerthError|super)\(\s*'([a-z-]+)',\s*'([^']*)'/g)) {
    uses.push({ kind: m[1] as ErrorKind, code: m[2]! });
  }
  return uses;
}

test('every error thrown in src is a BerthError, not a plain Error', () => {
  const plain = /\bnew (?:Aggregate|Eval|Range|Reference|Syntax|Type|URI)?Error\(|\bclass \w+ extends Error\b/g;
  const found: string[] = [];
  for (const { file, text } of files) {
    for (const line of text.split('\n')) {
      if (!plain.test(line)) continue;
      plain.lastIndex = 0;
      if (ALLOWED_PLAIN_ERRORS.some((a) => a.file === file && line.includes(a.text))) continue;
      found.push(`${file}: ${line.trim()}`);
    }
  }
  assert.deepEqual(found, []);
});

test('every literal error code is catalogued with the kind it is thrown with', () => {
  const wrong: string[] = [];
  let uses = 0;
  for (const { file, text } of files) {
    for (const { kind, code } of literalUses(text)) {
      uses++;
      if (!isErrorCode(code)) wrong.push(`${file}: ${code} is not in the catalogue`);
      else if (!kindsOf(code).includes(kind)) wrong.push(`${file}: ${code} thrown as ${kind}, catalogued as ${kindsOf(code).join(', ')}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(uses > 150, `only ${uses} error codes found: the scan has stopped finding them`);
});

test('every catalogued code is raised somewhere in src', () => {
  const all = files
    .filter((f) => f.file !== 'errors/error-codes.ts')
    .map((f) => f.text)
    .join('\n');
  // Codes made from a template (`${what}-failed`, `grpc-${kind}`) match its pattern.
  const templates = [...all.matchAll(/`((?:[a-z-]*\$\{\w+\})+[a-z-]*)`/g)]
    .map((m) => m[1]!)
    .filter((t) => t.replace(/\$\{\w+\}/g, '').includes('-'))
    .map((t) => new RegExp(`^${t.replace(/\$\{\w+\}/g, '[a-z]+(?:-[a-z]+)*')}$`));
  const unused = (Object.keys(ERROR_CODES) as ErrorCode[]).filter(
    (code) => !all.includes(`'${code}'`) && !templates.some((t) => t.test(code)),
  );
  assert.deepEqual(unused, []);
});

test('every entry has a meaning', () => {
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    assert.ok(entry.meaning.length > 10, code);
  }
});
