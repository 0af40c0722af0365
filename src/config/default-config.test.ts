// The commented default config that `berth install` writes: every key the daemon has, each with
// its real default, so that uncommenting a line changes nothing until its value is edited.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { defaultConfig, parseConfig } from './config.ts';

const template = await readFile(new URL('./default-config.toml', import.meta.url), 'utf8');

/** Uncomments `# key = value` lines (not prose, not the registry example). */
function uncommented(text: string): string {
  let inExample = false;
  return text
    .split('\n')
    .map((line) => {
      if (/^# \[registries\./.test(line)) inExample = true;
      else if (/^\[/.test(line)) inExample = false;
      if (/^# \[runtimes\.[a-z]+\]$/.test(line)) return line.slice(2);
      const m = /^# ([a-z_]+ = .*?)(\s+#.*)?$/.exec(line);
      return m && !inExample ? m[1]! : line;
    })
    .join('\n');
}

/** `table.key` of every setting in the file, as the TOML names them. */
function keysOf(text: string): Set<string> {
  const keys = new Set<string>();
  let table = '';
  for (const line of text.split('\n')) {
    const t = /^\[([^\]]+)\]$/.exec(line);
    if (t) table = t[1]!;
    const k = /^([a-z_]+) = /.exec(line);
    if (k) keys.add(table ? `${table}.${k[1]}` : k[1]!);
  }
  return keys;
}

/** Leaves of the defaults, named as in TOML (a `_ms` value is written as a duration without the suffix). */
function leaves(value: object, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (prefix === '' && k === 'registries') continue; // a map of hosts, empty by default
    const name = `${prefix}${k.replace(/_ms$/, '')}`;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...leaves(v, `${name}.`));
    else out.push(name);
  }
  return out;
}

test('the default config, uncommented, is the daemon defaults', () => {
  assert.deepEqual(parseConfig(uncommented(template), 'default-config.toml'), defaultConfig());
});

test('the default config shows every key of the daemon', () => {
  const shown = keysOf(uncommented(template));
  const missing = leaves(defaultConfig()).filter((k) => !shown.has(k));
  assert.deepEqual(missing, [], 'keys of the daemon missing from src/config/default-config.toml');
});

test('as written (all commented), it is the defaults too', () => {
  assert.deepEqual(parseConfig(template), defaultConfig());
});
