import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { type ContainerStats, ContainerStatsSchema } from '../cri-api/gen/runtime/v1/api_pb.js';
import { statsTable } from './container-stats.ts';

function sample(id: string, name: string, t: bigint, cpu: bigint, mem: bigint, disk = 8192n, inodes = 5n): ContainerStats {
  return create(ContainerStatsSchema, {
    attributes: { id, metadata: { name } },
    cpu: { timestamp: t, usageCoreNanoSeconds: { value: cpu } },
    memory: { timestamp: t, workingSetBytes: { value: mem } },
    writableLayer: { timestamp: t, usedBytes: { value: disk }, inodesUsed: { value: inodes } },
  });
}

const A = '98d55eae498d40fad74c8aeec1ca7e6e48b2babaa098929928626a46e7a038f7';
const B = '4b3eab2e139d63ee1bed5821e86c1e6ee818d0f36d2f288d5e0c4503d5484072';
const C = 'c00000000000000000000000000000000000000000000000000000000000000c';

test('berth stats: CPU % between two samples, sizes as go-units prints them, sorted by ID', () => {
  const first = [sample(A, 'main', 1_000_000_000n, 23_253_349n, 360_448n), sample(B, 'idle', 1_000_000_000n, 0n, 0n)];
  const second = [
    sample(A, 'main', 2_000_000_000n, 25_653_349n, 360_448n),
    sample(B, 'idle', 2_000_000_000n, 0n, 0n),
    sample(C, 'new', 2_000_000_000n, 5n, 5n),
  ];
  assert.equal(
    statsTable(first, second),
    'CONTAINER           NAME                CPU %               MEM                 DISK                INODES\n' +
      '98d55eae498d4       main                0.24                360.4kB             8.192kB             5\n',
  );
  // -a: containers that do not run too (CPU % 0.00); one that was not in the first sample is still left out.
  assert.equal(
    statsTable(first, second, { all: true }),
    'CONTAINER           NAME                CPU %               MEM                 DISK                INODES\n' +
      '4b3eab2e139d6       idle                0.00                0B                  8.192kB             5\n' +
      '98d55eae498d4       main                0.24                360.4kB             8.192kB             5\n',
  );
  assert.throws(() => statsTable(first, [sample(A, 'main', 1_000_000_000n, 23_253_350n, 1n)]), /cpu stat is not updated during sample/);
});
