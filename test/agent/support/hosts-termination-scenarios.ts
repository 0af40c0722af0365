// The files the kubelet mounts into every container, run by berth node with the cri provider
// against a real CRI runtime (node-hosts-termination-berth.test.ts, …-containerd.test.ts): the
// managed /etc/hosts of a pod-network pod (its IP, hostname, subdomain FQDN and host aliases) and of
// a host-network pod (the node's file and the aliases); termination messages written by the
// container (also as a non-root user, and at a path of its own), the log tail with
// FallbackToLogsOnError, read again by a restarted node; nothing of it left after deletion.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ContainerStatus, Pod } from '../../../src/agent/k8s-types.ts';
import { type RunningNode, runNode } from '../../../src/agent/node.ts';
import type { PodProvider } from '../../../src/agent/provider.ts';
import { connectCri } from '../../../src/cri/cri-client.ts';
import { hostNetworkHostsContent, managedHostsContent } from '../../../src/providers/cri/hosts-file.ts';
import { loadProvider } from '../../../src/providers/load-provider.ts';
import { createLogger, silentLogger } from '../../../src/util/logger.ts';
import { pushImage } from '../../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../../support/registry.ts';
import { busyboxImage, pauseImage } from './images.ts';
import { type RuntimeUnderTest, type StartRuntime, subnetPrefix } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const NODE_NAME = 'node1';
const logger = process.env.BERTH_TEST_LOG ? createLogger(process.env.BERTH_TEST_LOG) : silentLogger();

const ALIASES = [
  { ip: '10.123.0.1', hostnames: ['db.internal', 'db'] },
  { ip: '2001:db8::7', hostnames: ['six.internal'] },
];
const ALIASES_YAML = `
  hostAliases:
    - ip: "10.123.0.1"
      hostnames: [db.internal, db]
    - ip: "2001:db8::7"
      hostnames: [six.internal]`;

/** Prints /etc/hosts, then waits to be stopped (the pod keeps its IP meanwhile). */
const PRINT_HOSTS = `[sh, -c, 'cat /etc/hosts; trap "exit 0" TERM; while :; do sleep 1; done']`;

const manifests = {
  hosts: `
apiVersion: v1
kind: Pod
metadata: {name: hosts}
spec:
  hostname: web
  subdomain: frontend
  terminationGracePeriodSeconds: 2${ALIASES_YAML}
  containers:
    - name: main
      image: busybox:1.36
      command: ${PRINT_HOSTS}
`,
  hostnet: `
apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 2${ALIASES_YAML}
  containers:
    - name: main
      image: busybox:1.36
      command: ${PRINT_HOSTS}
`,
  term: `
apiVersion: v1
kind: Pod
metadata: {name: term}
spec:
  restartPolicy: Never
  containers:
    - name: written
      image: busybox:1.36
      securityContext: {runAsUser: 1000}
      command: [sh, -c, 'printf "disk full" > /dev/termination-log; echo not this; exit 1']
    - name: fallback
      image: busybox:1.36
      terminationMessagePolicy: FallbackToLogsOnError
      command: [sh, -c, 'i=1; while [ $i -le 100 ]; do echo line-$i; i=$((i+1)); done; exit 2']
    - name: custom
      image: busybox:1.36
      terminationMessagePath: /tmp/result
      terminationMessagePolicy: FallbackToLogsOnError
      command: [sh, -c, 'printf "all good" > /tmp/result']
    - name: quiet
      image: busybox:1.36
      terminationMessagePolicy: FallbackToLogsOnError
      command: [sh, -c, 'echo hidden']
`,
};

const FALLBACK_TAIL = Array.from({ length: 80 }, (_, i) => `line-${i + 21}\n`).join('');

export function hostsTerminationScenarios(runtimeTitle: string, start: StartRuntime, subnet: string): void {
  describe(`berth node /etc/hosts and termination messages, cri provider, ${runtimeTitle}`, { timeout: 300_000 }, () => {
    let dir: string;
    let manifestDir: string;
    let rootDir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let provider: PodProvider | undefined;
    let node: RunningNode | undefined;

    const pod = (name: string): Pod | undefined => node?.pod('default', `${name}-${NODE_NAME}`);
    const describePods = () =>
      `pods: ${JSON.stringify(
        node?.pods().map((p) => ({ name: p.metadata.name, status: p.status })),
        null,
        1,
      )}\n${runtimeTitle} log tail:\n${runtime?.logs().slice(-3000) ?? ''}`;

    async function startNode(): Promise<void> {
      provider = await loadProvider('cri', {
        nodeName: NODE_NAME,
        nodeIP: '127.0.0.1',
        logger,
        signal: new AbortController().signal,
        config: {
          runtimeEndpoint: runtime!.endpoint,
          podLogsDir: path.join(dir, 'pod-logs'),
          rootDir,
          callTimeoutMs: 60_000,
          ...runtime!.providerConfig,
        },
      });
      node = await runNode({
        nodeName: NODE_NAME,
        nodeIP: '127.0.0.1',
        provider,
        logger,
        manifestDir,
        timings: { relistMs: 500, manifestScanMs: 300, retryBaseMs: 500 },
      });
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

    async function logText(name: string, container = 'main'): Promise<string> {
      const chunks: Uint8Array[] = [];
      const stream = await provider!.getContainerLogs!('default', `${name}-${NODE_NAME}`, container, {}, AbortSignal.timeout(10_000));
      for await (const chunk of stream) chunks.push(chunk);
      return Buffer.concat(chunks).toString('utf8');
    }

    /** Removes the manifest; waits until the node and the runtime hold nothing of the pod; checks the host and the pod's directory. */
    async function removeAndCheckGone(name: string): Promise<void> {
      const uid = pod(name)!.metadata.uid!;
      const known = await runtimeObjectsOf(uid);
      const ids = { sandboxes: known.sandboxes.map((s) => s.id), containers: known.containers.map((c) => c.id) };
      await unlink(path.join(manifestDir, `${name}.yaml`));
      await waitFor(
        `${name}: nothing left in the runtime`,
        async () => {
          const left = await runtimeObjectsOf(uid);
          return pod(name) === undefined && left.sandboxes.length === 0 && left.containers.length === 0 ? true : undefined;
        },
        { timeoutMs: 60_000, describe: describePods },
      );
      assert.deepEqual(await runtime!.leftovers(ids), [], `what ${runtimeTitle} left of ${name}`);
      await waitFor(`${name}: its pod directory removed`, async () =>
        (await readdir(path.join(rootDir, 'pods')).catch(() => [] as string[])).includes(uid) ? undefined : true,
      );
    }

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-hosts-term-test-'));
      manifestDir = path.join(dir, 'manifests');
      rootDir = path.join(dir, 'node-root');
      await mkdir(manifestDir);
      registry = await startRegistry();
      await pushImage(registry, 'library/busybox:1.36', busyboxImage());
      await pushImage(registry, 'pause:3.9', pauseImage());
      runtime = await start(registry, { subnet });
      await startNode();
    });

    after(async () => {
      await node?.stop();
      await provider?.close?.();
      await runtime?.stop();
      await registry?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    test('pod network: /etc/hosts lists the pod IP with the FQDN and hostname, then the host aliases', async () => {
      await writeFile(path.join(manifestDir, 'hosts.yaml'), manifests.hosts);
      const podIP = await waitFor(
        'hosts running with a pod IP',
        () => {
          const p = pod('hosts');
          return p?.status?.containerStatuses?.[0]?.ready && p.status.podIP ? p.status.podIP : undefined;
        },
        { timeoutMs: 90_000, describe: describePods },
      );
      assert.ok(podIP.startsWith(subnetPrefix(subnet)), `pod IP ${podIP} in ${subnet}`);
      const printed = await waitFor('hosts printed /etc/hosts', async () => {
        const text = await logText('hosts');
        return text.includes('six.internal') ? text : undefined;
      });
      assert.equal(printed, managedHostsContent([podIP], 'web', 'frontend.default.svc.cluster.local', ALIASES));
      assert.match(printed, new RegExp(`^${podIP.replaceAll('.', '\\.')}\tweb\\.frontend\\.default\\.svc\\.cluster\\.local\tweb$`, 'm'));
      const uid = pod('hosts')!.metadata.uid!;
      assert.equal(await readFile(path.join(rootDir, 'pods', uid, 'etc-hosts'), 'utf8'), printed);
      await removeAndCheckGone('hosts');
    });

    test("host network: /etc/hosts is the node's own file under the kubelet's header, then the host aliases", async () => {
      await writeFile(path.join(manifestDir, 'hostnet.yaml'), manifests.hostnet);
      await waitFor('hostnet running', () => pod('hostnet')?.status?.containerStatuses?.[0]?.ready || undefined, {
        timeoutMs: 90_000,
        describe: describePods,
      });
      const printed = await waitFor('hostnet printed /etc/hosts', async () => {
        const text = await logText('hostnet');
        return text.includes('six.internal') ? text : undefined;
      });
      assert.equal(printed, hostNetworkHostsContent(await readFile('/etc/hosts', 'utf8'), ALIASES));
      await removeAndCheckGone('hostnet');
    });

    test('termination messages: the file written, the log tail on failure, a path of its own; read again after a node restart', async () => {
      await writeFile(path.join(manifestDir, 'term.yaml'), manifests.term);
      const terminated = (statuses: ContainerStatus[] | undefined) => {
        const byName = new Map((statuses ?? []).map((s) => [s.name, s.state.terminated]));
        return ['written', 'fallback', 'custom', 'quiet'].every((n) => byName.get(n) !== undefined) ? byName : undefined;
      };
      const expectMessages = (byName: Map<string, ContainerStatus['state']['terminated']>) => {
        assert.deepEqual(
          [byName.get('written')!.exitCode, byName.get('written')!.reason, byName.get('written')!.message],
          [1, 'Error', 'disk full'],
        );
        assert.deepEqual([byName.get('fallback')!.exitCode, byName.get('fallback')!.message], [2, FALLBACK_TAIL]);
        assert.deepEqual([byName.get('custom')!.reason, byName.get('custom')!.message], ['Completed', 'all good']);
        assert.deepEqual([byName.get('quiet')!.exitCode, byName.get('quiet')!.message], [0, undefined]);
      };
      const first = await waitFor(
        'term: every container terminated',
        () => {
          const p = pod('term');
          return p?.status?.phase === 'Failed' ? terminated(p.status.containerStatuses) : undefined;
        },
        { timeoutMs: 90_000, describe: describePods },
      );
      expectMessages(first);

      // The message file the first container wrote as user 1000: one per start, world-writable.
      const uid = pod('term')!.metadata.uid!;
      const writtenDir = path.join(rootDir, 'pods', uid, 'containers', 'written');
      const files = await readdir(writtenDir);
      assert.equal(files.length, 1, `message files: ${files.join(', ')}`);
      assert.equal(await readFile(path.join(writtenDir, files[0]!), 'utf8'), 'disk full');
      assert.equal((await stat(path.join(writtenDir, files[0]!))).mode & 0o777, 0o666);

      // A new node and provider know nothing but what the runtime reports (the mounts) and the files.
      await node!.stop();
      await provider!.close?.();
      await startNode();
      const again = await waitFor('term reported again by the restarted node', () => terminated(pod('term')?.status?.containerStatuses), {
        timeoutMs: 60_000,
        describe: describePods,
      });
      expectMessages(again);
      await removeAndCheckGone('term');
      assert.deepEqual(await readdir(path.join(rootDir, 'pods')).catch(() => []), []);
    });
  });
}
