// Container environments from ConfigMaps, Secrets and the downward API, run by berth node (cri
// provider, standalone mode) against a real CRI runtime (node-env-berth.test.ts,
// node-env-containerd.test.ts): the manifest folder holds a ConfigMap, a Secret and pods that use
// envFrom, configMapKeyRef, secretKeyRef, resourceFieldRef and fieldRef; the containers print what
// they see, read back through the provider's container logs.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pod } from '../../../src/agent/k8s-types.ts';
import type { RunningNode } from '../../../src/agent/node.ts';
import type { PodProvider } from '../../../src/agent/provider.ts';
import { ManifestObjectStore } from '../../../src/agent/static-pods/manifest-object-store.ts';
import type { TestRegistry } from '../../support/registry.ts';
import {
  containerLogText,
  makeNodeDirs,
  podsReport,
  recordingEvents,
  removeDir,
  removeManifestAndCheckGone,
  runtimeLogTail,
  runtimeObjectsOf,
  startCriNode,
  startRuntimeWithRegistry,
  stopNodeStack,
  waitForLogText,
} from './node-harness.ts';
import { type RuntimeUnderTest, type StartRuntime, subnetPrefix } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const NODE_NAME = 'envnode';

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

export function envScenarios(runtimeTitle: string, start: StartRuntime, subnet: string): void {
  describe(`berth node env from ConfigMaps, Secrets and the downward API, ${runtimeTitle}`, { timeout: 300_000 }, () => {
    let dir: string;
    let manifestDir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let provider: PodProvider | undefined;
    let node: RunningNode | undefined;
    const { events, recorder } = recordingEvents();

    const pod = (name: string): Pod | undefined => node?.pod('default', `${name}-${NODE_NAME}`);
    const describePods = () =>
      `${podsReport(node)}\nproblems: ${JSON.stringify(node?.manifestProblems())}\n${runtimeLogTail(runtimeTitle, runtime, 3000)}`;
    const logsOf = (name: string) => containerLogText(provider!, `${name}-${NODE_NAME}`);
    const removeAndCheckGone = (name: string) =>
      removeManifestAndCheckGone({ runtime: runtime!, runtimeTitle, manifestDir, name, pod: () => pod(name), describe: describePods });

    before(async () => {
      ({ dir, manifestDir } = await makeNodeDirs('berth-node-env-'));
      ({ registry, runtime } = await startRuntimeWithRegistry(start, { subnet }));
      ({ provider, node } = await startCriNode({
        nodeName: NODE_NAME,
        runtime,
        dir,
        manifestDir,
        objects: new ManifestObjectStore(),
        events: recorder,
      }));
    });

    after(async () => {
      await stopNodeStack({ node, provider, runtime, registry });
      await removeDir(dir);
    });

    test('the container sees envFrom, key refs, resource fields and pod fields', async () => {
      await writeFile(path.join(manifestDir, 'settings.yaml'), settingsConfigMap);
      await writeFile(path.join(manifestDir, 'creds.json'), credsSecret);
      await writeFile(path.join(manifestDir, 'env-demo.yaml'), envDemoPod);
      await waitFor('env-demo Running', () => (pod('env-demo')?.status?.phase === 'Running' ? true : undefined), {
        timeoutMs: 90_000,
        describe: describePods,
      });
      const output = await waitForLogText('the environment in the log', () => logsOf('env-demo'), 'END-OF-ENV');
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
      assert.deepEqual((await runtimeObjectsOf(runtime!, uid)).containers, [], 'no container was created');
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
      const output = await waitForLogText('the greeting in the log', () => logsOf('needs-key'), 'GREETING=');
      assert.match(output, /^GREETING=hello-late$/m);
      await removeAndCheckGone('needs-key');
    });

    test('stopping leaves nothing on the host', async () => {
      await stopNodeStack({ node, provider, runtime });
      assert.deepEqual(await runtime!.hostLeftovers(), []);
    });
  });
}
