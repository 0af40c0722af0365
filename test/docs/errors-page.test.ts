// docs/ERRORS.md is generated from the error catalogue: the committed page must be what the
// generator writes now (run `node scripts/gen-error-docs.ts` after changing the catalogue).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERRORS_PAGE, renderErrorsPage } from '../../scripts/gen-error-docs.ts';
import { ERROR_CODES } from '../../src/errors/error-codes.ts';

test('docs/ERRORS.md is the page generated from the catalogue', () => {
  assert.equal(readFileSync(ERRORS_PAGE, 'utf8'), renderErrorsPage());
});

test('the page has a row for every code', () => {
  const page = renderErrorsPage();
  for (const code of Object.keys(ERROR_CODES)) assert.ok(page.includes(`| \`${code}\` |`), code);
});
