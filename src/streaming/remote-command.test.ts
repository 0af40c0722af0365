import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeOutcome,
  encodeOutcome,
  encodeResize,
  negotiateProtocol,
  ResizeDecoder,
  statusObject,
  supportsResize,
} from './remote-command.ts';

describe('remotecommand protocol pieces', () => {
  test("negotiation takes the client's first protocol the server speaks (comma-separated values too)", () => {
    const server = ['v4.channel.k8s.io', 'v3.channel.k8s.io'];
    assert.equal(negotiateProtocol(['v5.channel.k8s.io, v4.channel.k8s.io', 'v3.channel.k8s.io'], server), 'v4.channel.k8s.io');
    assert.equal(negotiateProtocol(['v3.channel.k8s.io', 'v4.channel.k8s.io'], server), 'v3.channel.k8s.io');
    assert.equal(negotiateProtocol(['v9'], server), undefined);
  });

  test('v4 statuses are metav1.Status as the kubelet writes them', () => {
    assert.deepEqual(JSON.parse(encodeOutcome({ kind: 'success' }, 'v4.channel.k8s.io')!.toString()), { metadata: {}, status: 'Success' });
    assert.deepEqual(statusObject({ kind: 'exit', code: 42 }), {
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: exit status 42',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '42' }] },
    });
    const internal = statusObject({ kind: 'error', message: 'no such container' });
    assert.equal(internal.reason, 'InternalError');
    assert.equal(internal.code, 500);
  });

  test('before v4 the error stream carries text, and nothing on success', () => {
    assert.equal(encodeOutcome({ kind: 'success' }, 'v3.channel.k8s.io'), undefined);
    assert.equal(
      encodeOutcome({ kind: 'exit', code: 2 }, 'channel.k8s.io')!.toString(),
      'command terminated with non-zero exit code: exit status 2',
    );
  });

  test('outcomes read back from every protocol version', () => {
    for (const protocol of ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'channel.k8s.io']) {
      for (const outcome of [
        { kind: 'success' } as const,
        { kind: 'exit', code: 7 } as const,
        { kind: 'error', message: 'boom' } as const,
      ]) {
        const wire = encodeOutcome(outcome, protocol) ?? Buffer.alloc(0);
        const back = decodeOutcome(wire, protocol);
        if (outcome.kind === 'error') assert.match((back as { message: string }).message, /boom/, protocol);
        else assert.deepEqual(back, outcome, protocol);
      }
    }
  });

  test('resize messages: JSON objects, split anywhere, bad ones skipped', () => {
    const d = new ResizeDecoder();
    const wire = Buffer.concat([
      encodeResize({ width: 80, height: 24 }),
      Buffer.from('{"Width":"x"}{"Width":100,'),
      Buffer.from('"Height":40}'),
    ]);
    const sizes = [];
    for (let i = 0; i < wire.length; i += 7) sizes.push(...d.push(wire.subarray(i, i + 7)));
    assert.deepEqual(sizes, [
      { width: 80, height: 24 },
      { width: 100, height: 40 },
    ]);
  });

  test('resize streams exist from v3 on', () => {
    assert.equal(supportsResize('v4.channel.k8s.io'), true);
    assert.equal(supportsResize('v3.channel.k8s.io'), true);
    assert.equal(supportsResize('v2.channel.k8s.io'), false);
    assert.equal(supportsResize('channel.k8s.io'), false);
  });
});
