// API-server mode: `berth node --kubeconfig` as its own process, cri provider on a real berth
// daemon, the fake API server holding ConfigMaps and Secrets. A bound pod reads them through
// envFrom and key refs; a pod whose ConfigMap does not exist yet waits in CreateContainerConfigError
// (reported to the API) and starts once it is created; a static pod reads the API's objects too
// (the Node authorizer lets the node read what a pod bound to it refers to), not a ConfigMap file
// of the same name in the manifest folder, and, as on a kubelet, has no mirror pod: the API server
// refuses mirror pods that refer to ConfigMaps.
import assert from 'node:assert/strict';
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pod } from '../../../src/agent/k8s-types.ts';
import { nodeApiFetch } from '../../../src/cli/kube/node-api-endpoint.ts';
import { connectCri } from '../../../src/cri/cri-client.ts';
import { type ApiObject, type FakeApiServer, startFakeApiServer } from '../../fake-apiserver/fake-apiserver.ts';
import { freePort } from '../../support/ports.ts';
import type { TestRegistry } from '../../support/registry.ts';
import { startBerthRuntime } from './berth-runtime.ts';
import {
  apiPodsReport,
  makeNodeDirs,
  type NodeProcess,
  nodeSocket,
  removeDir,
  spawnKubeconfigNode,
  startRuntimeWithRegistry,
  waitForLogText,
} from './node-harness.ts';
import type { RuntimeUnderTest } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const NODE = 'envapinode';

const printEnv = ['sh', '-c', 'echo GREETING=$GREETING; echo TOKEN=$S_token; echo END; exec sleep 3600'];

export function envApiServerScenario(subnet: string): void {
  describe("berth node --kubeconfig: env from the API server's ConfigMaps and Secrets, berth daemon", { timeout: 300_000 }, () => {
    let dir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let fake: FakeApiServer | undefined;
    let nodeProcess: NodeProcess | undefined;
    let apiPort = 0;

    const apiPod = (name: string) => fake?.get('pods', 'default', name) as unknown as Pod | undefined;
    const describeState = () => `${apiPodsReport(fake)}\nnode log tail:\n${nodeProcess?.log().slice(-5000) ?? ''}`;
    const logsOf = async (pod: string) => {
      const res = await nodeApiFetch(nodeSocket(dir), `/containerLogs/default/${pod}/main`, AbortSignal.timeout(5000));
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
      ({ dir } = await makeNodeDirs('berth-node-api-env-'));
      ({ registry, runtime } = await startRuntimeWithRegistry(startBerthRuntime, { subnet }));
      fake = await startFakeApiServer({ bookmarkIntervalMs: 500 });
      const kubeconfig = path.join(dir, 'kubeconfig');
      await writeFile(kubeconfig, fake.kubeconfigYaml(NODE));
      apiPort = await freePort();
      nodeProcess = await spawnKubeconfigNode({ kubeconfig, kubeletClientCA: fake.kubeletClientCA, runtime, nodeName: NODE, apiPort, dir });
    });

    after(async () => {
      await nodeProcess?.kill();
      await runtime?.stop();
      await fake?.close();
      await registry?.stop();
      await removeDir(dir);
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
      const output = await waitForLogText('the env in the log', () => logsOf('api-env'), 'END', {
        timeoutMs: 90_000,
        describe: describeState,
      });
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
      const output = await waitForLogText('the env in the log', () => logsOf('api-late'), 'END', {
        timeoutMs: 60_000,
        describe: describeState,
      });
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
      const output = await waitForLogText('the env in the log', () => logsOf(name), 'END', {
        timeoutMs: 60_000,
        describe: describeState,
      });
      assert.match(output!, /^GREETING=hello-from-api$/m);
      assert.equal(apiPod(name), undefined, 'no mirror pod');
      assert.match(nodeProcess!.log(), /node \\"envapinode\\" can not create pods that reference configmaps/);
    });

    test('a static pod may read only what pods bound to the node refer to (the Node authorizer): it waits with the 403', async () => {
      fake!.create('configmaps', { metadata: { name: 'static-only', namespace: 'default' }, data: { greeting: 'unreachable' } });
      await writeFile(
        path.join(dir, 'manifests', 'static-denied.json'),
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'static-denied' },
          spec: {
            terminationGracePeriodSeconds: 1,
            containers: [
              {
                name: 'main',
                image: 'busybox:1.36',
                command: printEnv,
                env: [{ name: 'GREETING', valueFrom: { configMapKeyRef: { name: 'static-only', key: 'greeting' } } }],
              },
            ],
          },
        }),
      );
      const name = `static-denied-${NODE}`;
      const waiting = await waitFor(
        'CreateContainerConfigError on the node API',
        async () => {
          const res = await nodeApiFetch(nodeSocket(dir), '/pods', AbortSignal.timeout(5000));
          const pod = ((await res.json()) as { items: Pod[] }).items.find((p) => p.metadata.name === name);
          const w = pod?.status?.containerStatuses?.[0]?.state.waiting;
          return w?.reason === 'CreateContainerConfigError' ? w : undefined;
        },
        { timeoutMs: 60_000, describe: describeState },
      );
      assert.match(waiting.message ?? '', /no relationship found between node 'envapinode' and this object/);
      await unlink(path.join(dir, 'manifests', 'static-denied.json'));
    });

    test("the API server refused the node only the static pods' mirror pods and the unrelated ConfigMap", () => {
      const refused = fake!.requests
        .filter((r) => r.user === `system:node:${NODE}` && (r.status === 403 || r.status === 422))
        .map((r) => `${r.method} ${r.path} ${(r.body as ApiObject | undefined)?.metadata?.name ?? ''}`.trim());
      assert.deepEqual([...new Set(refused)].sort(), [
        'GET /api/v1/namespaces/default/configmaps/static-only',
        `POST /api/v1/namespaces/default/pods static-denied-${NODE}`,
        `POST /api/v1/namespaces/default/pods static-env-${NODE}`,
      ]);
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
      // The node deletes the pod from the API once it has stopped it: after its sandbox is gone.
      await waitFor(
        'the pods gone from the API',
        () => (apiPod('api-env') === undefined && apiPod('api-late') === undefined ? true : undefined),
        {
          timeoutMs: 30_000,
          describe: describeState,
        },
      );
      assert.equal(await nodeProcess!.terminate(), 0, nodeProcess!.log().slice(-3000));
      await runtime!.stop();
      assert.deepEqual(await runtime!.hostLeftovers(), []);
    });
  });
}
