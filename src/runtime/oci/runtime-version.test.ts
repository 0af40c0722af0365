import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingFixes, parseRuncVersion } from './runtime-version.ts';

const output = (version: string, commit: string) => `runc version ${version}\ncommit: ${commit}\nspec: 1.0.2-dev\n`;

test('the known container-escape fixes of runc builds', () => {
  const v = (version: string, commit = `v${version}`) => missingFixes(parseRuncVersion(output(version, commit)));
  const all = ['CVE-2024-21626', 'CVE-2025-31133', 'CVE-2025-52565', 'CVE-2025-52881'];
  assert.deepEqual(v('1.1.11'), all);
  assert.deepEqual(v('1.1.12'), all.slice(1));
  assert.deepEqual(v('1.2.7'), all.slice(1));
  assert.deepEqual(v('1.2.8'), []);
  assert.deepEqual(v('1.3.2'), all.slice(1));
  assert.deepEqual(v('1.3.3'), []);
  assert.deepEqual(v('1.4.0-rc.2'), all.slice(1), 'a pre-release comes before the release');
  assert.deepEqual(v('1.4.0'), []);
  assert.deepEqual(v('1.5.1'), []);
  assert.deepEqual(v('1.0.0-rc10'), all);
  // Debian 12's runc 1.1.5 with the CVE-2024-21626 fix backported (DSA-5615).
  assert.deepEqual(v('1.1.5+ds1', '1.1.5+ds1-1+deb12u1'), all.slice(1));
  assert.deepEqual(v('1.1.5+ds1', '1.1.5+ds1-1'), all);
  assert.deepEqual(missingFixes(parseRuncVersion('something else')), all, 'an unknown version has none');
});
