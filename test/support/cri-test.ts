// Small helpers shared by the integration tests that talk CRI to a real daemon.
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import { BerthError } from '../../src/errors/errors.ts';

/** Awaits a promise that must fail with a BerthError carrying the gRPC status `status`. */
export async function expectCriError(promise: Promise<unknown>, status: string, message?: RegExp): Promise<BerthError> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error !== undefined, `expected ${status}, but the call succeeded`);
  assert.ok(error instanceof BerthError, `expected a BerthError, got ${String(error)}`);
  assert.equal(error.fields.grpcStatus, status, `expected ${status}, got ${String(error.fields.grpcStatus)}: ${error.message}`);
  if (message !== undefined) assert.match(error.message, message);
  return error;
}

/**
 * Registers `setup` as a `before` hook and `teardown` as an `after` hook, so that teardown always
 * runs after setup has finished (node:test may start `after` hooks without waiting for `before`
 * when a name pattern matches no test of the file).
 */
export function setUpAndTearDown(setup: () => Promise<void>, teardown: () => Promise<void>): void {
  let started: Promise<void> | undefined;
  let tornDown = false;
  before(() => {
    if (tornDown) return;
    started = setup();
    return started;
  });
  after(async () => {
    tornDown = true;
    await started?.catch(() => {});
    await teardown();
  });
}
