// API-server mode: `berth node --kubeconfig` as its own process, cri provider on a real berth
// daemon, the fake API server holding ConfigMaps and Secrets. A bound pod reads them through
// envFrom and key refs; a pod whose ConfigMap does not exist yet waits in CreateContainerConfigError
// (reported to the API) and starts once it is created; a static pod reads the API's objects too,
// not a ConfigMap file of the same name in the manifest folder.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pod } from '../../../src/agent/k8s-types.ts';
import { connectCri } from '../../../src/cri/cri-client.ts';
import { pushImage } from '../../support/image-builder.ts';
import { freePort } from '../../support/ports.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { type ApiObject, type FakeApiServer, startFakeApiServer } from '../fake-apiserver.ts';
import { startBerthRuntime } from './berth-runtime.ts';
import { busyboxImage, pauseImage } from './images.ts';
import type { RuntimeUnderTest } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const BERTH = path.resolve(import.meta.dirname, '..', '..', '..', 'bin', 'berth');
const NODE = 'envapinode';

const printEnv = ['sh', '-c', 'echo GREETING=$GREETING; echo TOKEN=$S_token; echo END; exec sleep 3600'];

export function envApiServerScenario(subnet: string): void {
  describe("berth node --kubeconfig: env from the API server's ConfigMaps and Secrets, berth daemon", { timeout: 300_000 }, () => {
    let dir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let fake: FakeApiServer | undefined;
    let nodeProcess: ChildProcess | undefined;
    let nodeLog = '';
    let apiPort = 0;

    const apiPod = (name: string) => fake?.get('pods', 'default', name) as unknown as Pod | undefined;
    const describeState = () =>
      `pods: ${JSON.stringify(
        fake?.list('pods').map((p) => ({ name: p.metadata.name, status: p.status })),
        null,
        1,
      )}\nnode log tail:\n${nodeLog.slice(-5000)}`;
    const logsOf = async (pod: string) => {
      const res = await fetch(`http://127.0.0.1:${apiPort}/containerLogs/default/${pod}/main`, { signal: AbortSignal.timeout(5000) });
      return res.ok ? res.text() : undefined;
    };
    const bound = (name: string, env: unknown[], envFrom: unknown[] = []) =>
      fake!.create('pods', {
        metadata: { name, namespace: 'default' },
        spec: {
          nodeName: NODE,
          terminationGracePeriodSeconds: 1,
          containers: [{ name: 'main', image: 'busybox:1.36', command: printEnv, env, envFrom }],
        },
      } as ApiObject);

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-node-api-env-'));
      await mkdir(path.join(dir, 'manifests'));
      registry = await startRegistry();
      await pushImage(registry, 'library/busybox:1.36', busyboxImage());
      await pushImage(registry, 'pause:3.9', pauseImage());
      runtime = await startBerthRuntime(registry, { subnet });
      fake = await startFakeApiServer({ bookmarkIntervalMs: 500 });
      const kubeconfig = path.join(dir, 'kubeconfig');
      await writeFile(kubeconfig, fake.kubeconfigYaml());
      apiPort = await freePort();
      const args = [
        BERTH,
        'node',
        '--kubeconfig',
        kubeconfig,
        '--runtime-endpoint',
        runtime.endpoint,
        '--node-name',
        NODE,
        '--node-ip',
        '127.0.0.1',
        '--port',
        String(apiPort),
        '--manifests',
        path.join(dir, 'manifests'),
        '--pod-logs-dir',
        path.join(dir, 'pod-logs'),
        '--root-dir',
        path.join(dir, 'node-root'),
        '--cgroup-root',
        String(runtime.providerConfig?.cgroupParent ?? ''),
      ];
      nodeProcess = existsSync('/usr/bin/setpriv')
        ? spawn('/usr/bin/setpriv', ['--pdeathsig', 'SIGKILL', '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(args[0]!, args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      const append = (chunk: Buffer) => {
        nodeLog = (nodeLog + chunk.toString('utf8')).slice(-1_000_000);
      };
      nodeProcess.stdout?.on('data', append);
      nodeProcess.stderr?.on('data', append);
    });

    after(async () => {
      if (nodeProcess !== undefined && nodeProcess.exitCode === null && nodeProcess.signalCode === null) {
        nodeProcess.kill('SIGKILL');
        await new Promise((resolve) => nodeProcess!.once('exit', resolve));
      }
      await runtime?.stop();
      await fake?.close();
      await registry?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('a bound pod reads ConfigMaps and Secrets from the API', async () => {
      fake!.create('configmaps', { metadata: { name: 'app-config', namespace: 'default' }, data: { greeting: 'hello-from-api' } });
      fake!.create('secrets', {
        metadata: { name: 'app-secret', namespace: 'default' },
        type: 'Opaque',
        data: { token: Buffer.from('api-token').toString('base64') },
      });
      bound(
        'api-env',
        [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'greeting' } } }],
        [{ prefix: 'S_', secretRef: { name: 'app-secret' } }],
      );
      const output = await waitFor(
        'the env in the log',
        async () => ((await logsOf('api-env'))?.includes('END') ? logsOf('api-env') : undefined),
        {
          timeoutMs: 90_000,
          describe: describeState,
        },
      );
      assert.match(output!, /^GREETING=hello-from-api$/m);
      assert.match(output!, /^TOKEN=api-token$/m);
    });

    test('a pod whose ConfigMap is missing waits in CreateContainerConfigError, then starts once it is created', async () => {
      bound('api-late', [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'later', key: 'greeting' } } }]);
      const waiting = await waitFor(
        'CreateContainerConfigError in the API',
        () => {
          const w = apiPod('api-late')?.status?.containerStatuses?.[0]?.state.waiting;
          return w?.reason === 'CreateContainerConfigError' ? w : undefined;
        },
        { timeoutMs: 60_000, describe: describeState },
      );
      assert.equal(waiting.message, 'configmap "later" not found');
      fake!.create('configmaps', { metadata: { name: 'later', namespace: 'default' }, data: { greeting: 'better-late' } });
      const output = await waitFor(
        'the env in the log',
        async () => ((await logsOf('api-late'))?.includes('END') ? logsOf('api-late') : undefined),
        {
          timeoutMs: 60_000,
          describe: describeState,
        },
      );
      assert.match(output!, /^GREETING=better-late$/m);
    });

    test("a static pod reads the API's objects, not a file of the same name", async () => {
      await writeFile(
        path.join(dir, 'manifests', 'app-config.json'),
        JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app-config' }, data: { greeting: 'from-file' } }),
      );
      await writeFile(
        path.join(dir, 'manifests', 'static-env.json'),
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'static-env' },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'main',
                image: 'busybox:1.36',
                command: printEnv,
                env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'app-config', key: 'greeting' } } }],
              },
            ],
          },
        }),
      );
      const name = `static-env-${NODE}`;
      const output = await waitFor('the env in the log', async () => ((await logsOf(name))?.includes('END') ? logsOf(name) : undefined), {
        timeoutMs: 60_000,
        describe: describeState,
      });
      assert.match(output!, /^GREETING=hello-from-api$/m);
    });

    test('deleting the pods leaves nothing behind', async () => {
      for (const name of ['api-env', 'api-late']) fake!.delete('pods', 'default', name, { gracePeriodSeconds: 1 });
      await unlink(path.join(dir, 'manifests', 'static-env.json'));
      const cri = connectCri(runtime!.endpoint);
      try {
        await waitFor(
          'no sandbox left in the runtime',
          async () => ((await cri.runtime.listPodSandbox({}, { timeoutMs: 10_000 })).items.length === 0 ? true : undefined),
          { timeoutMs: 60_000, describe: describeState },
        );
      } finally {
        cri.close();
      }
      assert.equal(apiPod('api-env'), undefined);
      nodeProcess!.kill('SIGTERM');
      assert.equal(await new Promise<number | null>((resolve) => nodeProcess!.once('exit', (c) => resolve(c))), 0, nodeLog.slice(-3000));
      await runtime!.stop();
      assert.deepEqual(await runtime!.hostLeftovers(), []);
    });
  });
}
