// Container environments from ConfigMaps, Secrets and the downward API, run by berth node (cri
// provider, standalone mode) against a real CRI runtime (node-env-berth.test.ts,
// node-env-containerd.test.ts): the manifest folder holds a ConfigMap, a Secret and pods that use
// envFrom, configMapKeyRef, secretKeyRef, resourceFieldRef and fieldRef; the containers print what
// they see, read back through the provider's container logs.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pod } from '../../../src/agent/k8s-types.ts';
import { type RunningNode, runNode } from '../../../src/agent/node.ts';
import type { PodProvider } from '../../../src/agent/provider.ts';
import { ManifestObjectStore } from '../../../src/agent/static-pods/manifest-object-store.ts';
import { connectCri } from '../../../src/cri/cri-client.ts';
import { loadProvider } from '../../../src/providers/load-provider.ts';
import { createLogger, silentLogger } from '../../../src/util/logger.ts';
import { pushImage } from '../../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { busyboxImage, pauseImage } from './images.ts';
import { type RuntimeUnderTest, type StartRuntime, subnetPrefix } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const NODE_NAME = 'envnode';
const logger = process.env.BERTH_TEST_LOG ? createLogger(process.env.BERTH_TEST_LOG) : silentLogger();

const settingsConfigMap = `
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  MODE: fast
  log.level: debug
  1st-key: skipped
`;

const credsSecret = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'creds' },
  data: { token: Buffer.from('tok-123').toString('base64') },
  stringData: { password: 's3cr3t' },
});

const envDemoPod = `
apiVersion: v1
kind: Pod
metadata: {name: env-demo}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: busybox:1.36
      # The shell's own environment as the runtime gave it ('env' would not show names a shell cannot hold, such as log.level).
      command:
        - sh
        - -c
        - |
          tr '\\000' '\\n' < /proc/$$$$/environ | sort; echo END-OF-ENV; exec sleep 3600
      resources:
        requests: {cpu: 250m, memory: 32Mi}
        limits: {memory: 64Mi}
      envFrom:
        - configMapRef: {name: settings}
        - prefix: SECRET_
          secretRef: {name: creds}
        - configMapRef: {name: absent, optional: true}
      env:
        - {name: MODE_FROM_KEY, valueFrom: {configMapKeyRef: {name: settings, key: MODE}}}
        - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
        - {name: CPU_REQUEST_MILLI, valueFrom: {resourceFieldRef: {resource: requests.cpu, divisor: 1m}}}
        - {name: CPU_LIMIT, valueFrom: {resourceFieldRef: {resource: limits.cpu}}}
        - {name: MEMORY_LIMIT_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
        - {name: MEMORY_REQUEST, valueFrom: {resourceFieldRef: {resource: requests.memory}}}
        - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
        - {name: NOT_THERE, valueFrom: {configMapKeyRef: {name: settings, key: nope, optional: true}}}
        - {name: NOT_THERE_EITHER, valueFrom: {secretKeyRef: {name: absent, key: k, optional: true}}}
        - {name: COMBINED, value: "$(MODE)-$(POD_NAME)-$(SECRET_token)"}
`;

const needsKeyPod = `
apiVersion: v1
kind: Pod
metadata: {name: needs-key}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, "echo GREETING=$GREETING; exec sleep 3600"]
      env:
        - {name: GREETING, valueFrom: {configMapKeyRef: {name: late, key: greeting}}}
`;

const lateConfigMap = (data: Record<string, string>) =>
  JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late' }, data });

interface RecordedEvent {
  pod: string;
  type: string;
  reason: string;
  message: string;
}

export function envScenarios(runtimeTitle: string, start: StartRuntime, subnet: string): void {
  describe(`berth node env from ConfigMaps, Secrets and the downward API, ${runtimeTitle}`, { timeout: 300_000 }, () => {
    let dir: string;
    let manifestDir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let provider: PodProvider | undefined;
    let node: RunningNode | undefined;
    const events: RecordedEvent[] = [];

    const pod = (name: string): Pod | undefined => node?.pod('default', `${name}-${NODE_NAME}`);
    const describePods = () =>
      `pods: ${JSON.stringify(
        node?.pods().map((p) => ({ name: p.metadata.name, status: p.status })),
        null,
        1,
      )}\nproblems: ${JSON.stringify(node?.manifestProblems())}\n${runtimeTitle} log tail:\n${runtime?.logs().slice(-3000) ?? ''}`;

    async function logsOf(name: string): Promise<string> {
      const chunks: Uint8Array[] = [];
      const stream = await provider!.getContainerLogs!('default', `${name}-${NODE_NAME}`, 'main', {}, AbortSignal.timeout(10_000));
      for await (const chunk of stream) chunks.push(chunk);
      return Buffer.concat(chunks).toString('utf8');
    }

    async function runtimeObjectsOf(uid: string) {
      const cri = connectCri(runtime!.endpoint);
      try {
        const filter = { labelSelector: { 'io.kubernetes.pod.uid': uid } };
        const sandboxes = (await cri.runtime.listPodSandbox({ filter }, { timeoutMs: 10_000 })).items;
        const containers = (await cri.runtime.listContainers({ filter }, { timeoutMs: 10_000 })).containers;
        return { sandboxes, containers };
      } finally {
        cri.close();
      }
    }

    async function removeAndCheckGone(name: string): Promise<void> {
      const uid = pod(name)!.metadata.uid!;
      const known = await runtimeObjectsOf(uid);
      await unlink(path.join(manifestDir, `${name}.yaml`));
      await waitFor(
        `${name}: nothing left in the runtime`,
        async () => {
          const left = await runtimeObjectsOf(uid);
          return pod(name) === undefined && left.sandboxes.length === 0 && left.containers.length === 0 ? true : undefined;
        },
        { timeoutMs: 30_000, describe: describePods },
      );
      const ids = { sandboxes: known.sandboxes.map((s) => s.id), containers: known.containers.map((c) => c.id) };
      assert.deepEqual(await runtime!.leftovers(ids), [], `what ${runtimeTitle} left of ${name}`);
    }

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-node-env-'));
      manifestDir = path.join(dir, 'manifests');
      await mkdir(manifestDir);
      registry = await startRegistry();
      await pushImage(registry, 'library/busybox:1.36', busyboxImage());
      await pushImage(registry, 'pause:3.9', pauseImage());
      runtime = await start(registry, { subnet });
      const objects = new ManifestObjectStore();
      provider = await loadProvider('cri', {
        nodeName: NODE_NAME,
        nodeIP: '127.0.0.1',
        logger,
        signal: new AbortController().signal,
        configMaps: objects,
        secrets: objects,
        events: {
          podEvent: (p, type, reason, message) => events.push({ pod: p.metadata.name ?? '', type, reason, message }),
        },
        config: {
          runtimeEndpoint: runtime.endpoint,
          podLogsDir: path.join(dir, 'pod-logs'),
          callTimeoutMs: 60_000,
          ...runtime.providerConfig,
        },
      });
      node = await runNode({
        nodeName: NODE_NAME,
        nodeIP: '127.0.0.1',
        provider,
        logger,
        manifestDir,
        manifestObjects: objects,
        timings: { relistMs: 500, manifestScanMs: 300, retryBaseMs: 500 },
      });
    });

    after(async () => {
      await node?.stop();
      await provider?.close?.();
      await runtime?.stop();
      await registry?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('the container sees envFrom, key refs, resource fields and pod fields', async () => {
      await writeFile(path.join(manifestDir, 'settings.yaml'), settingsConfigMap);
      await writeFile(path.join(manifestDir, 'creds.json'), credsSecret);
      await writeFile(path.join(manifestDir, 'env-demo.yaml'), envDemoPod);
      await waitFor('env-demo Running', () => (pod('env-demo')?.status?.phase === 'Running' ? true : undefined), {
        timeoutMs: 90_000,
        describe: describePods,
      });
      const output = await waitFor('the environment in the log', async () => {
        const text = await logsOf('env-demo');
        return text.includes('END-OF-ENV') ? text : undefined;
      });
      const env = new Map(
        output
          .split('\n')
          .filter((line) => line.includes('='))
          .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
      );
      const podIP = pod('env-demo')!.status!.podIP!;
      assert.ok(podIP.startsWith(subnetPrefix(subnet)), `pod IP ${podIP} in ${subnet}`);
      const expected: Record<string, string> = {
        MODE: 'fast',
        'log.level': 'debug',
        SECRET_password: 's3cr3t',
        SECRET_token: 'tok-123',
        MODE_FROM_KEY: 'fast',
        PASSWORD: 's3cr3t',
        CPU_REQUEST_MILLI: '250',
        CPU_LIMIT: String(availableParallelism()),
        MEMORY_LIMIT_MI: '64',
        MEMORY_REQUEST: String(32 * 2 ** 20),
        POD_NAME: `env-demo-${NODE_NAME}`,
        POD_IP: podIP,
        COMBINED: `fast-env-demo-${NODE_NAME}-tok-123`,
      };
      for (const [name, value] of Object.entries(expected)) assert.equal(env.get(name), value, `${name} in\n${output}`);
      for (const name of ['1st-key', 'NOT_THERE', 'NOT_THERE_EITHER']) assert.equal(env.has(name), false, `${name} is not set`);
      assert.deepEqual(
        events.filter((e) => e.reason === 'InvalidEnvironmentVariableNames').map((e) => [e.pod, e.type, e.message]),
        [
          [
            `env-demo-${NODE_NAME}`,
            'Warning',
            'Keys [1st-key] from the EnvFrom configMap default/settings were skipped since they are considered invalid environment variable names.',
          ],
        ],
      );
      await removeAndCheckGone('env-demo');
    });

    test('a missing ConfigMap or key keeps the container in CreateContainerConfigError until the file is fixed', async () => {
      const waiting = () => pod('needs-key')?.status?.containerStatuses?.[0]?.state.waiting;
      await writeFile(path.join(manifestDir, 'needs-key.yaml'), needsKeyPod);
      await waitFor(
        'CreateContainerConfigError: configmap not found',
        () =>
          waiting()?.reason === 'CreateContainerConfigError' && waiting()?.message === 'configmap "late" not found' ? true : undefined,
        { timeoutMs: 90_000, describe: describePods },
      );

      await writeFile(path.join(manifestDir, 'late.json'), lateConfigMap({ other: 'x' }));
      await waitFor(
        'CreateContainerConfigError: key not found',
        () =>
          waiting()?.reason === 'CreateContainerConfigError' &&
          waiting()?.message === "couldn't find key greeting in ConfigMap default/late"
            ? true
            : undefined,
        { timeoutMs: 30_000, describe: describePods },
      );
      assert.equal(pod('needs-key')?.status?.phase, 'Pending');
      const uid = pod('needs-key')!.metadata.uid!;
      assert.deepEqual((await runtimeObjectsOf(uid)).containers, [], 'no container was created');
      assert.ok(
        events.some((e) => e.reason === 'Failed' && e.message === "Error: couldn't find key greeting in ConfigMap default/late"),
        'a Failed event says why',
      );

      await writeFile(path.join(manifestDir, 'late.json'), lateConfigMap({ other: 'x', greeting: 'hello-late' }));
      await waitFor('needs-key Running', () => (pod('needs-key')?.status?.phase === 'Running' ? true : undefined), {
        timeoutMs: 60_000,
        describe: describePods,
      });
      assert.equal(pod('needs-key')!.metadata.uid, uid, 'the same pod: a ConfigMap change does not recreate it');
      const output = await waitFor('the greeting in the log', async () => {
        const text = await logsOf('needs-key');
        return text.includes('GREETING=') ? text : undefined;
      });
      assert.match(output, /^GREETING=hello-late$/m);
      await removeAndCheckGone('needs-key');
    });

    test('stopping leaves nothing on the host', async () => {
      await node?.stop();
      await provider?.close?.();
      await runtime!.stop();
      assert.deepEqual(await runtime!.hostLeftovers(), []);
    });
  });
}
