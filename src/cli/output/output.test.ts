import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ContainerStatsSchema, PodSandboxSchema, PodSandboxState } from '../../cri-api/gen/runtime/v1/api_pb.js';
import {
  formatDocument,
  formatStatusInfo,
  formatStructured,
  indentJson,
  int64AsNumbers,
  parseOutputFormat,
  protoJson,
  sortKeysDeep,
} from './documents.ts';
import { createdAgo, humanSize, truncateId, wordyDuration } from './human.ts';
import { tabTable } from './tabwriter.ts';
import { goTimeString, rfc3339Nano } from './times.ts';

process.env.TZ = 'UTC';

test('tables are laid out as Go tabwriter(minwidth 20, padding 3) does for crictl', () => {
  assert.equal(
    tabTable([
      ['POD ID', 'CREATED', 'STATE'],
      ['716dc2cf74680', '3 seconds ago', 'Ready'],
    ]),
    'POD ID              CREATED             STATE\n' + '716dc2cf74680       3 seconds ago       Ready\n',
  );
  // A cell wider than 17 widens its column to its width + 3; the last cell is never padded.
  const long = 'docker.io/library/busybox:1.36';
  assert.equal(
    tabTable([
      ['IMAGE', 'X', 'LAST'],
      [long, '', ''],
    ]),
    `IMAGE${' '.repeat(long.length + 3 - 5)}X                   LAST\n${long}   ${' '.repeat(20)}\n`,
  );
  assert.equal(tabTable([['ONLY']]), 'ONLY\n');
  // Width counts characters, not UTF-16 units.
  assert.equal(tabTable([['é', 'x']]), `é${' '.repeat(19)}x\n`);
});

test('durations read like go-units HumanDuration', () => {
  assert.equal(wordyDuration(500), 'Less than a second');
  assert.equal(wordyDuration(1000), '1 second');
  assert.equal(wordyDuration(59_000), '59 seconds');
  assert.equal(wordyDuration(60_000), 'About a minute');
  assert.equal(wordyDuration(119_000), 'About a minute');
  assert.equal(wordyDuration(120_000), '2 minutes');
  assert.equal(wordyDuration(3_599_000), '59 minutes');
  assert.equal(wordyDuration(3_600_000), 'About an hour');
  assert.equal(wordyDuration(5_400_000), '2 hours'); // 1.5 h rounds up
  assert.equal(wordyDuration(47 * 3_600_000), '47 hours');
  assert.equal(wordyDuration(48 * 3_600_000), '2 days');
  assert.equal(wordyDuration(15 * 86_400_000), '2 weeks');
  assert.equal(wordyDuration(70 * 86_400_000), '2 months');
  assert.equal(wordyDuration(800 * 86_400_000), '2 years');
  const now = 1_700_000_000_000;
  assert.equal(createdAgo(BigInt(now - 5000) * 1_000_000n, now), '5 seconds ago');
});

test('sizes read like go-units HumanSize (four digits)', () => {
  assert.equal(humanSize(0, 4), '0B');
  assert.equal(humanSize(999, 4), '999B');
  assert.equal(humanSize(8192, 4), '8.192kB');
  assert.equal(humanSize(360448, 4), '360.4kB');
  assert.equal(humanSize(725000, 4), '725kB');
  assert.equal(humanSize(1_234_567_890, 4), '1.235GB');
});

test('times print as Go prints them', () => {
  const nanos = 1_795_869_126_801_470_983n;
  assert.equal(rfc3339Nano(nanos), '2026-11-28T12:32:06.801470983Z');
  assert.equal(rfc3339Nano(1_795_869_126_800_000_000n), '2026-11-28T12:32:06.8Z');
  assert.equal(rfc3339Nano(1_795_869_126_000_000_000n), '2026-11-28T12:32:06Z');
  assert.equal(goTimeString(nanos), '2026-11-28 12:32:06.801470983 +0000 UTC');
  assert.equal(truncateId('716dc2cf74680bb8ed53d3697a89990f'), '716dc2cf74680');
  assert.equal(truncateId('short'), 'short');
});

test('protobuf JSON has every field, in order, with unset messages as null', () => {
  const pod = create(PodSandboxSchema, { id: 'p1', state: PodSandboxState.SANDBOX_READY, createdAt: 5n, metadata: { name: 'web' } });
  const json = protoJson(PodSandboxSchema, pod);
  assert.deepEqual(Object.keys(json), ['id', 'metadata', 'state', 'createdAt', 'labels', 'annotations', 'runtimeHandler']);
  assert.deepEqual(json.metadata, { name: 'web', uid: '', namespace: '', attempt: 0 });
  assert.equal(json.state, 'SANDBOX_READY');
  assert.equal(json.createdAt, '5');
  const stats = protoJson(ContainerStatsSchema, create(ContainerStatsSchema, { attributes: { id: 'c1' } }));
  assert.equal(stats.cpu, null);
  assert.equal(stats.memory, null);
  assert.deepEqual(sortKeysDeep({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 2 } }), { a: { c: 2, d: [{ y: 2, z: 1 }] }, b: 1 });
});

test('inspect output: status first, info keys sorted, JSON info kept digit for digit', () => {
  const out = formatStatusInfo(
    { id: 'c1', note: '<b>&' },
    { pid: '123', info: '{"big": 12345678901234567890, "list": []}', text: 'not json' },
    'json',
  );
  assert.equal(
    out,
    [
      '{',
      '  "status": {',
      '    "id": "c1",',
      '    "note": "\\u003cb\\u003e\\u0026"',
      '  },',
      '  "info": {',
      '    "big": 12345678901234567890,',
      '    "list": []',
      '  },',
      '  "pid": 123,',
      '  "text": "not json"',
      '}',
      '',
    ].join('\n'),
  );
  const yaml = formatStatusInfo({ id: 'c1', createdAt: '2026-11-28T12:32:06Z' }, { pid: '123' }, 'yaml');
  assert.equal(yaml, 'pid: 123\nstatus:\n  createdAt: "2026-11-28T12:32:06Z"\n  id: c1\n\n');
});

test('indentJson lays out JSON as Go json.Indent does', () => {
  assert.equal(
    indentJson('{"a":[1,{"b":{}}],"c":"x:,{y}","d":[]}'),
    '{\n  "a": [\n    1,\n    {\n      "b": {}\n    }\n  ],\n  "c": "x:,{y}",\n  "d": []\n}',
  );
  assert.equal(indentJson('"a\\"b"'), '"a\\"b"');
});

test('documents: JSON indented by two, YAML with sorted keys and unindented lists', () => {
  assert.equal(formatDocument({ b: [1], a: 'yes' }, 'json'), '{\n  "b": [\n    1\n  ],\n  "a": "yes"\n}\n');
  assert.equal(formatDocument({ b: [1], a: 'yes' }, 'yaml'), 'a: "yes"\nb:\n- 1\n\n');
  assert.equal(parseOutputFormat(undefined, 'json'), 'json');
  assert.throws(() => parseOutputFormat('go-template', 'json'), /not supported/);
  assert.throws(() => parseOutputFormat('xml', 'json'), /unsupported output format/);
});

test('image tables: columns three spaces apart', () => {
  assert.equal(
    tabTable(
      [
        ['IMAGE', 'TAG'],
        ['busybox', 'latest'],
        ['a', 'b'],
      ],
      { minWidth: 0, padding: 3 },
    ),
    'IMAGE     TAG\nbusybox   latest\na         b\n',
  );
});

test('sizes read like crictl images (three digits)', () => {
  assert.equal(humanSize(999, 3), '999B');
  assert.equal(humanSize(1_234_567, 3), '1.23MB');
});

test('structured output turns bigints into numbers', () => {
  assert.equal(formatStructured({ a: 5n }, 'json'), '{\n  "a": 5\n}\n');
  assert.equal(formatStructured({ a: 5n }, 'yaml'), 'a: 5\n');
});

test('YAML gives int64 fields as numbers, every digit kept; JSON keeps them strings', () => {
  const pod = create(PodSandboxSchema, { id: 'p1', createdAt: 1_796_321_203_703_000_001n, labels: { build: '123' } });
  const yaml = formatDocument({ items: [protoJson(PodSandboxSchema, pod, 'yaml')] }, 'yaml');
  assert.match(yaml, /^ {2}createdAt: 1796321203703000001$/m);
  assert.match(yaml, /^ {4}build: "123"$/m, 'a string that looks like a number stays a string');
  assert.match(formatDocument({ items: [protoJson(PodSandboxSchema, pod)] }, 'json'), /"createdAt": "1796321203703000001"/);
  assert.equal(
    formatStructured({ size: int64AsNumbers(PodSandboxSchema, { createdAt: '1796321203703000001' }) }, 'yaml'),
    'size:\n  createdAt: 1796321203703000001\n',
  );
});
