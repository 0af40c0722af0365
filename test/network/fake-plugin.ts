// A scriptable CNI plugin for tests: one Node script installed under several plugin names. What it
// does comes from its own network configuration (the `fake` key), and every call is logged as one
// JSON line (command, CNI_* environment, the configuration it got) to `fake.log`.
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface FakeBehaviour {
  /** Where each call is appended as a JSON line. */
  log: string;
  /** Printed on ADD (with the list's cniVersion); without it, prevResult is echoed. */
  result?: Record<string, unknown>;
  /** Fail these commands with this CNI error (printed as JSON on stdout, exit 1). */
  failOn?: ('ADD' | 'DEL' | 'CHECK')[];
  error?: { code: number; msg: string; details?: string };
  /** Instead of a JSON error, write this to stderr and exit 2 (a crash). */
  crash?: string;
  /** Sleep this long before answering an ADD (or the commands in `sleepOn`). */
  sleepMs?: number;
  sleepOn?: ('ADD' | 'DEL' | 'CHECK')[];
}

export interface FakeCall {
  command: string;
  env: Record<string, string>;
  config: Record<string, unknown> & { prevResult?: Record<string, unknown>; runtimeConfig?: Record<string, unknown> };
}

const SCRIPT = `
const fs = require('node:fs');
const input = fs.readFileSync(0, 'utf8');
const conf = JSON.parse(input);
const fake = conf.fake || {};
const env = {};
for (const [k, v] of Object.entries(process.env)) if (k.startsWith('CNI_')) env[k] = v;
const command = process.env.CNI_COMMAND;
if (fake.log) fs.appendFileSync(fake.log, JSON.stringify({ command, env, config: conf }) + '\\n');
const finish = () => {
  if ((fake.failOn || []).includes(command)) {
    if (fake.crash) { process.stderr.write(fake.crash + '\\n'); process.exit(2); }
    process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, ...fake.error }));
    process.exit(1);
  }
  if (command === 'ADD') {
    const out = fake.result ? { cniVersion: conf.cniVersion, ...fake.result } : conf.prevResult;
    if (out) process.stdout.write(JSON.stringify(out));
  }
  if (command === 'VERSION') process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['0.3.1', '0.4.0', '1.0.0'] }));
};
if (fake.sleepMs && (fake.sleepOn || ['ADD']).includes(command)) setTimeout(finish, fake.sleepMs); else finish();
`;

/** Installs the fake plugin as each of `names` in `dir` (a `#!` line to this very Node). */
export async function installFakePlugins(dir: string, names: string[]): Promise<void> {
  for (const name of names) {
    const file = path.join(dir, name);
    await writeFile(file, `#!${process.execPath}\n${SCRIPT}`);
    await chmod(file, 0o755);
  }
}

export async function readCalls(log: string): Promise<FakeCall[]> {
  let text = '';
  try {
    text = await readFile(log, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as FakeCall);
}

/** A plugin (shell script) that always fails ADD with a CNI error, and succeeds on DEL: for real-plugin chains. */
export async function installFailingPlugin(dir: string, name: string, msg: string): Promise<void> {
  const file = path.join(dir, name);
  const error = JSON.stringify({ cniVersion: '1.0.0', code: 100, msg, details: 'failing on purpose' });
  await writeFile(
    file,
    [
      '#!/bin/sh',
      'cat > /dev/null',
      `if [ "$CNI_COMMAND" = ADD ]; then printf '%s' '${error}'; exit 1; fi`,
      `if [ "$CNI_COMMAND" = VERSION ]; then printf '%s' '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'; fi`,
      'exit 0',
      '',
    ].join('\n'),
  );
  await chmod(file, 0o755);
}

/**
 * A plugin (shell script) that passes ADD's prevResult on and fails DEL with a CNI error while the
 * file `failFlag` exists: for chains of real plugins whose teardown must survive a failed DEL.
 * Each command it gets is appended as a line to `log`.
 */
export async function installFlakyDelPlugin(dir: string, name: string, failFlag: string, log: string): Promise<void> {
  const file = path.join(dir, name);
  const error = JSON.stringify({ cniVersion: '1.0.0', code: 11, msg: 'DEL failed on purpose', details: 'the flag file exists' });
  await writeFile(
    file,
    [
      '#!/bin/sh',
      'conf=$(cat)',
      `printf '%s\\n' "$CNI_COMMAND" >> '${log}'`,
      `if [ "$CNI_COMMAND" = DEL ] && [ -e '${failFlag}' ]; then printf '%s' '${error}'; exit 1; fi`,
      // ADD: the result is the previous plugin's, which this one does not change.
      `if [ "$CNI_COMMAND" = ADD ]; then printf '%s' "$conf" | ${process.execPath} -e 'const c = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(JSON.stringify(c.prevResult))'; fi`,
      `if [ "$CNI_COMMAND" = VERSION ]; then printf '%s' '{"cniVersion":"1.0.0","supportedVersions":["1.0.0"]}'; fi`,
      'exit 0',
      '',
    ].join('\n'),
  );
  await chmod(file, 0o755);
}
