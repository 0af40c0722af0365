// The example provider, loaded by path as `berth node --provider ./examples/…` would load it,
// runs a static pod's command as a process and stops it when the manifest goes.
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
// A static import too, so that `tsc -p .` (src and test) type-checks the example.
import { createProvider } from '../../examples/providers/process-provider.ts';
import { runNode } from '../../src/agent/node.ts';
import type { ProviderFactory } from '../../src/agent/provider.ts';
import { loadProvider } from '../../src/providers/load-provider.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { waitFor } from './support/wait-for.ts';

const manifest = `
apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 1
  containers:
    - {name: sleeper, image: none, command: [sleep, "30"]}
    - {name: greeter, image: none, command: [sh, -c, 'echo "hello $WHO"'], env: [{name: WHO, value: world}]}
`;

test('the example module exports a provider factory', () => {
  const factory: ProviderFactory = createProvider;
  assert.equal(typeof factory, 'function');
});

test('the process provider runs and stops a static pod', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-example-provider-'));
  const signal = new AbortController().signal;
  const logger = silentLogger();
  const provider = await loadProvider(path.join(import.meta.dirname, '../../examples/providers/process-provider.ts'), {
    nodeName: 'n1',
    nodeIP: '127.0.0.1',
    logger,
    config: {},
    signal,
  });
  const node = await runNode({ nodeName: 'n1', provider, logger, manifestDir: dir, timings: { relistMs: 100, manifestScanMs: 100 } });
  try {
    await writeFile(path.join(dir, 'hello.yaml'), manifest);
    const pod = await waitFor('hello running, greeter done', () => {
      const p = node.pod('default', 'hello-n1');
      const greeter = p?.status?.containerStatuses?.find((c) => c.name === 'greeter');
      return p?.status?.phase === 'Running' && greeter?.state.terminated?.exitCode === 0 ? p : undefined;
    });
    assert.equal(pod.status?.containerStatuses?.find((c) => c.name === 'sleeper')?.ready, true);
    const logs = await provider.getContainerLogs!('default', 'hello-n1', 'greeter', {}, signal);
    let text = '';
    for await (const chunk of logs) text += Buffer.from(chunk).toString();
    assert.equal(text, 'hello world\n');
    await unlink(path.join(dir, 'hello.yaml'));
    await waitFor('hello gone from the provider', async () => ((await provider.getPods(signal)).length === 0 ? true : undefined), {
      timeoutMs: 10_000,
    });
  } finally {
    await node.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
