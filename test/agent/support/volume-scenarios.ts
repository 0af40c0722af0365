// Pod volumes run by berth node (cri provider, standalone mode) against a real CRI runtime
// (node-volumes-berth.test.ts, node-volumes-containerd.test.ts): emptyDir on disk and in memory,
// hostPath, configMap, secret and downwardAPI volumes from the manifest folder, read-only mounts,
// subPath and subPathExpr; a missing ConfigMap keeps its pod from starting until it appears; and
// nothing — no mount, no pod directory, nothing in the runtime — is left once a pod is deleted.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Pod } from '../../../src/agent/k8s-types.ts';
import type { RunningNode } from '../../../src/agent/node.ts';
import type { PodProvider } from '../../../src/agent/provider.ts';
import { ManifestObjectStore } from '../../../src/agent/static-pods/manifest-object-store.ts';
import { listMountPoints, unmount } from '../../../src/snapshot/mount.ts';
import type { TestRegistry } from '../../support/registry.ts';
import {
  containerLogText,
  makeNodeDirs,
  podsReport,
  QUICK_TIMINGS,
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
import type { RuntimeUnderTest, StartRuntime } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const NODE_NAME = 'volnode';

const appConfig = (color: string) =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'app-config' },
    data: { 'app.conf': `color=${color}`, unused: 'x' },
  });

const appCreds = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'app-creds' },
  data: { token: Buffer.from('tok-123').toString('base64') },
});

/** Every kind of volume in one pod; the container prints what it sees, then sleeps. Modes are decimal: 384 = 0600, 256 = 0400. */
const volumesPod = (hostDir: string) => `
apiVersion: v1
kind: Pod
metadata:
  name: volumes
  labels: {app: vols, tier: "back end"}
spec:
  terminationGracePeriodSeconds: 1
  initContainers:
    - name: init
      image: busybox:1.36
      command: [sh, -c, "echo from-init > /scratch/msg"]
      volumeMounts: [{name: work, mountPath: /scratch}]
  containers:
    - name: main
      image: busybox:1.36
      resources: {limits: {memory: 64Mi}}
      env: [{name: SUBDIR, value: by-env}]
      command:
        - sh
        - -c
        - |
          echo "msg=$(cat /scratch/msg)"
          echo "fast-fs=$(grep ' /fast ' /proc/mounts | cut -d' ' -f3)"
          echo hi > /host/from-pod && echo host-write=ok
          if touch /ro/x 2>/dev/null; then echo ro=writable; else echo ro=refused; fi
          echo sub > /sub/file && echo expr > /expr/file && echo subpaths=ok
          echo "config=$(cat /config/conf/app.conf) mode=$(stat -L -c %a /config/conf/app.conf) link=$(readlink /config/conf)"
          echo "config-ls=$(ls /config | tr '\\n' ' ')"
          if touch /config/new 2>/dev/null; then echo config-ro=writable; else echo config-ro=refused; fi
          echo "secret=$(cat /secret/token) mode=$(stat -L -c %a /secret/token) fs=$(grep ' /secret ' /proc/mounts | cut -d' ' -f3)"
          echo "labels=$(tr '\\n' ';' < /info/labels)"
          echo "name=$(cat /info/name) mem=$(cat /info/mem)"
          echo END
          exec sleep 3600
      volumeMounts:
        - {name: work, mountPath: /scratch}
        - {name: work, mountPath: /ro, readOnly: true}
        - {name: work, mountPath: /sub, subPath: nested/dir}
        - {name: work, mountPath: /expr, subPathExpr: "$(SUBDIR)"}
        - {name: fast, mountPath: /fast}
        - {name: host, mountPath: /host}
        - {name: config, mountPath: /config}
        - {name: creds, mountPath: /secret}
        - {name: info, mountPath: /info}
  volumes:
    - {name: work, emptyDir: {}}
    - {name: fast, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
    - {name: host, hostPath: {path: ${hostDir}, type: DirectoryOrCreate}}
    - {name: config, configMap: {name: app-config, items: [{key: app.conf, path: conf/app.conf, mode: 384}]}}
    - {name: creds, secret: {secretName: app-creds, defaultMode: 256}}
    - name: info
      downwardAPI:
        items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: name, fieldRef: {fieldPath: metadata.name}}
          - {path: mem, resourceFieldRef: {containerName: main, resource: limits.memory, divisor: 1Mi}}
`;

const lateConfigPod = `
apiVersion: v1
kind: Pod
metadata: {name: needs-config}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: main
      image: busybox:1.36
      command: [sh, -c, "echo greeting=$(cat /late/greeting); exec sleep 3600"]
      volumeMounts: [{name: late, mountPath: /late}]
  volumes:
    - {name: late, configMap: {name: late-config}}
`;

export function volumeScenarios(runtimeTitle: string, start: StartRuntime, subnet: string): void {
  describe(`berth node pod volumes, ${runtimeTitle}`, { timeout: 300_000 }, () => {
    let dir: string;
    let manifestDir: string;
    let rootDir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let provider: PodProvider | undefined;
    let node: RunningNode | undefined;
    const { events, recorder } = recordingEvents();

    const pod = (name: string): Pod | undefined => node?.pod('default', `${name}-${NODE_NAME}`);
    const describePods = () =>
      `${podsReport(node)}\nproblems: ${JSON.stringify(node?.manifestProblems())}\nevents: ${JSON.stringify(events.slice(-5))}\n${runtimeLogTail(runtimeTitle, runtime, 3000)}`;
    const logsOf = (name: string) => containerLogText(provider!, `${name}-${NODE_NAME}`);

    async function exec(name: string, command: string[]): Promise<{ exitCode: number; stdout: string }> {
      const out: Uint8Array[] = [];
      const { exitCode } = await provider!.runInContainer!(
        'default',
        `${name}-${NODE_NAME}`,
        'main',
        command,
        {
          stdout: (c) => {
            out.push(c);
          },
          timeoutSeconds: 10,
        },
        AbortSignal.timeout(20_000),
      );
      return { exitCode, stdout: Buffer.concat(out).toString('utf8') };
    }

    const mountsUnderRoot = async () => (await listMountPoints()).filter((m) => m.startsWith(`${rootDir}/`));

    /** Removes the pod's manifest; waits until the runtime holds nothing of it; checks that no mount, pod directory or runtime leftover stays. */
    async function removeAndCheckGone(name: string): Promise<void> {
      const uid = await removeManifestAndCheckGone({
        runtime: runtime!,
        runtimeTitle,
        manifestDir,
        name,
        pod: () => pod(name),
        describe: describePods,
      });
      const podDir = path.join(rootDir, 'pods', uid);
      await waitFor(`${name}: its pod directory removed`, () => (existsSync(podDir) ? undefined : true), { timeoutMs: 10_000 });
      assert.deepEqual(await mountsUnderRoot(), [], 'nothing stays mounted under the root directory');
    }

    before(async () => {
      ({ dir, manifestDir } = await makeNodeDirs('berth-node-volumes-'));
      rootDir = path.join(dir, 'node-root');
      ({ registry, runtime } = await startRuntimeWithRegistry(start, { subnet }));
      ({ provider, node } = await startCriNode({
        nodeName: NODE_NAME,
        runtime,
        dir,
        manifestDir,
        objects: new ManifestObjectStore(),
        events: recorder,
        providerConfig: { rootDir },
        timings: { ...QUICK_TIMINGS, resyncMs: 2000 },
      }));
    });

    after(async () => {
      await stopNodeStack({ node, provider, runtime, registry });
      // Only when a test failed half-way: a test that passed checked that nothing stays mounted.
      for (const m of (await listMountPoints()).filter((p) => dir && p.startsWith(`${dir}/`)).reverse()) await unmount(m);
      await removeDir(dir);
    });

    test('emptyDir, memory emptyDir, hostPath, configMap, secret and downwardAPI volumes, read-only and subPath mounts', async () => {
      const hostDir = path.join(dir, 'host', 'made-by-node');
      await writeFile(path.join(manifestDir, 'app-config.json'), appConfig('blue'));
      await writeFile(path.join(manifestDir, 'app-creds.json'), appCreds);
      await writeFile(path.join(manifestDir, 'volumes.yaml'), volumesPod(hostDir));
      await waitFor('volumes Running', () => (pod('volumes')?.status?.phase === 'Running' ? true : undefined), {
        timeoutMs: 90_000,
        describe: describePods,
      });
      const output = await waitForLogText('what the container saw', () => logsOf('volumes'), 'END');
      const seen = new Map(output.split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
      const expected: Record<string, string> = {
        msg: 'from-init',
        'fast-fs': 'tmpfs',
        'host-write': 'ok',
        ro: 'refused',
        subpaths: 'ok',
        config: 'color=blue mode=600 link=..data/conf',
        'config-ls': 'conf ',
        'config-ro': 'refused',
        secret: 'tok-123 mode=400 fs=tmpfs',
        labels: 'app="vols";tier="back end"',
        name: `volumes-${NODE_NAME} mem=64`,
      };
      for (const [key, value] of Object.entries(expected)) assert.equal(seen.get(key), value, `${key} in\n${output}`);

      // What the pod wrote is on the node: in the hostPath it created, and below the emptyDir for the subPaths.
      assert.equal(await readFile(path.join(hostDir, 'from-pod'), 'utf8'), 'hi\n');
      const uid = pod('volumes')!.metadata.uid!;
      const work = path.join(rootDir, 'pods', uid, 'volumes', 'kubernetes.io~empty-dir', 'work');
      assert.equal(await readFile(path.join(work, 'nested/dir/file'), 'utf8'), 'sub\n');
      assert.equal(await readFile(path.join(work, 'by-env/file'), 'utf8'), 'expr\n');
      const tmpfs = (await readFile('/proc/self/mountinfo', 'utf8'))
        .split('\n')
        .find((l) => l.split(' ')[4] === path.join(rootDir, 'pods', uid, 'volumes', 'kubernetes.io~empty-dir', 'fast'));
      assert.match(tmpfs ?? '', / - tmpfs tmpfs .*size=16384k/, 'the memory emptyDir is a tmpfs of its sizeLimit');

      // A changed ConfigMap reaches the running container.
      await writeFile(path.join(manifestDir, 'app-config.json'), appConfig('green'));
      await waitFor(
        'the new ConfigMap contents in the container',
        async () => ((await exec('volumes', ['cat', '/config/conf/app.conf'])).stdout === 'color=green' ? true : undefined),
        { timeoutMs: 30_000, describe: describePods },
      );
      assert.equal(pod('volumes')!.status!.containerStatuses![0]!.restartCount, 0);

      await removeAndCheckGone('volumes');
      assert.equal(await readFile(path.join(hostDir, 'from-pod'), 'utf8'), 'hi\n', 'a hostPath outlives the pod');
    });

    test('a missing ConfigMap keeps the pod from starting with FailedMount; it starts once the ConfigMap exists', async () => {
      await writeFile(path.join(manifestDir, 'needs-config.yaml'), lateConfigPod);
      const message = 'MountVolume.SetUp failed for volume "late" : configmap "late-config" not found';
      const waiting = await waitFor(
        'ContainerCreating with the mount failure',
        () => {
          const w = pod('needs-config')?.status?.containerStatuses?.[0]?.state.waiting;
          return w?.message === message ? w : undefined;
        },
        { timeoutMs: 60_000, describe: describePods },
      );
      assert.equal(waiting.reason, 'ContainerCreating');
      assert.equal(pod('needs-config')!.status!.phase, 'Pending');
      assert.ok(
        events.some(
          (e) => e.pod === `needs-config-${NODE_NAME}` && e.type === 'Warning' && e.reason === 'FailedMount' && e.message === message,
        ),
        `a FailedMount event: ${JSON.stringify(events)}`,
      );
      const uid = pod('needs-config')!.metadata.uid!;
      assert.deepEqual(await runtimeObjectsOf(runtime!, uid), { sandboxes: [], containers: [] }, 'no sandbox before the volumes are ready');

      await writeFile(
        path.join(manifestDir, 'late-config.json'),
        JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'late-config' }, data: { greeting: 'hello-late' } }),
      );
      await waitFor('needs-config Running', () => (pod('needs-config')?.status?.phase === 'Running' ? true : undefined), {
        timeoutMs: 60_000,
        describe: describePods,
      });
      assert.equal(pod('needs-config')!.metadata.uid, uid, 'the same pod');
      const output = await waitForLogText('the greeting in the log', () => logsOf('needs-config'), 'greeting=');
      assert.match(output, /^greeting=hello-late$/m);
      await removeAndCheckGone('needs-config');
    });

    test('stopping leaves nothing on the host', async () => {
      await stopNodeStack({ node, provider, runtime });
      assert.deepEqual(await runtime!.hostLeftovers(), []);
      assert.deepEqual(await mountsUnderRoot(), []);
      assert.deepEqual(await readdir(path.join(rootDir, 'pods')).catch(() => []), []);
    });
  });
}
