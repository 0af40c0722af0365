import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Command, defineCommand, endpointsFrom } from './command.ts';
import { type CommandLine, errorMessage, parseCommandLine } from './command-line.ts';

const noop = async () => 0;
const stop = defineCommand({
  name: 'stop',
  summary: 'stop',
  flags: { timeout: { type: 'string', short: 't', help: 'grace' } },
  run: noop,
});
const podExec = defineCommand({
  name: 'exec',
  summary: 'pod exec',
  flags: {
    container: { type: 'string', short: 'c', help: '' },
    stdin: { type: 'boolean', short: 'i', help: '' },
    tty: { type: 'boolean', short: 't', help: '' },
    namespace: { type: 'string', short: 'n', help: '' },
  },
  run: noop,
});
const exec = defineCommand({
  name: 'exec',
  summary: 'exec',
  flags: {
    sync: { type: 'boolean', short: 's', help: '' },
    timeout: { type: 'string', help: '' },
    interactive: { type: 'boolean', short: 'i', help: '' },
    tty: { type: 'boolean', short: 't', help: '' },
  },
  flagsEndAtFirstArg: true,
  podForm: podExec,
  run: noop,
});
const portForward = defineCommand({
  name: 'port-forward',
  summary: 'port-forward',
  flags: { address: { type: 'string', multiple: true, help: '' } },
  podForm: defineCommand({
    name: 'port-forward',
    summary: 'pod',
    flags: { namespace: { type: 'string', short: 'n', help: '' } },
    run: noop,
  }),
  run: noop,
});
const commands: Command[] = [stop, exec, portForward];

function parsed(argv: string[]): Extract<CommandLine, { kind: 'run' }> {
  const line = parseCommandLine(argv, commands);
  assert.equal(line.kind, 'run', JSON.stringify(line));
  return line as Extract<CommandLine, { kind: 'run' }>;
}

test('global flags written before the command are told apart from its own', () => {
  const { invocation } = parsed(['-r', 'unix:///x', '-t', '5s', 'stop', '-t', '3', 'ID']);
  assert.deepEqual(invocation.flags, { timeout: '3' });
  assert.deepEqual(invocation.args, ['ID']);
  assert.deepEqual(endpointsFrom(invocation.globals), { runtime: 'unix:///x', image: 'unix:///x', timeoutMs: 5000 });
  // After the command, a global flag keeps the names the command's own leave free.
  const after = parsed(['stop', '-t', '3', '--image-endpoint', 'unix:///img', '-i', 'unix:///i2', 'ID']).invocation;
  assert.deepEqual([after.flags, after.globals], [{ timeout: '3' }, { 'image-endpoint': 'unix:///i2' }]);
  const bad = parseCommandLine(['--bogus', 'stop'], commands);
  assert.equal(bad.kind === 'print' && bad.stderr?.startsWith("berth: Unknown option '--bogus'"), true, JSON.stringify(bad));
});

test('exec and port-forward take their pod form when their first argument names a pod', () => {
  assert.equal(parsed(['exec', 'pod/web', '--', 'ls']).command, podExec);
  assert.equal(parsed(['exec', '-it', '-c', 'main', 'pods/web', '--', 'sh']).command, podExec);
  assert.equal(parsed(['port-forward', '-n', 'kube-system', 'po/dns', '53']).command, portForward.podForm);
  assert.equal(parsed(['exec', '-i', 'abc123', 'ls', 'pod/x']).command, exec, 'a container ID first: crictl-style');
  assert.equal(parsed(['-r', 'unix:///run/x.sock', 'exec', '--', 'abc', 'pod/x']).command, exec);
  assert.equal(parsed(['port-forward', 'abc', '80']).command, portForward);
});

test('exec: flags end at the container ID, the rest is the command', () => {
  const a = parsed(['exec', '-s', '--timeout', '5', 'abc', 'ls', '-l', '/']).invocation;
  assert.deepEqual([a.flags, a.args], [{ sync: true, timeout: '5' }, ['abc', 'ls', '-l', '/']]);
  assert.deepEqual(parsed(['exec', '-s', 'abc', '--', 'sh', '-c', 'x']).invocation.args, ['abc', 'sh', '-c', 'x']);
  assert.deepEqual(parsed(['exec', '-s', '--', 'abc', 'true']).invocation.args, ['abc', 'true']);
  const b = parsed(['exec', '--timeout=3', '-s']).invocation;
  assert.deepEqual([b.flags, b.args], [{ timeout: '3', sync: true }, []]);
  // -t is exec's own (a terminal); the global timeout goes before the command.
  const c = parsed(['-t', '10s', 'exec', '-it', 'abc', 'sh']).invocation;
  assert.deepEqual([c.flags, c.globals.timeout, c.args], [{ interactive: true, tty: true }, '10s', ['abc', 'sh']]);
});

test("an error's message without the empty resolution note grpc-js ends a failed connection's with", () => {
  const e = new Error('No connection established. Last error: Error: connect ENOENT /x.sock. Resolution note: ');
  assert.equal(errorMessage(e), 'No connection established. Last error: Error: connect ENOENT /x.sock.');
  assert.equal(errorMessage(new Error('pods "x" not found')), 'pods "x" not found');
});
