// berth node's evented PLEG and garbage collection through the cri provider against a real runtime
// (node-pleg-gc-berth.test.ts, node-pleg-gc-containerd.test.ts): container exits reach the node
// through CRI container events where the runtime has them (berth daemon; the relist is set so long
// that it cannot be what noticed them) and through the relist where it answers UNIMPLEMENTED
// (Debian's containerd 1.6); image GC with thresholds that force it removes unused images only;
// dead containers are collected down to the last dead instance per container.
import assert from 'node:assert/strict';
import { unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { Pod } from '../../../src/agent/k8s-types.ts';
import type { RunningNode } from '../../../src/agent/node.ts';
import type { EventRecorder, PodProvider } from '../../../src/agent/provider.ts';
import { type CriClient, connectCri } from '../../../src/cri/cri-client.ts';
import { ContainerState } from '../../../src/cri-api/gen/runtime/v1/api_pb.js';
import { busyboxLikeImage, pushImage } from '../../support/image-builder.ts';
import type { TestRegistry } from '../../support/registry.ts';
import { readOnlyBase } from './node-api.ts';
import {
  makeNodeDirs,
  podsReport,
  removeDir,
  runtimeLogTail,
  startCriNode,
  startRegistryWithBaseImages,
  stopNodeStack,
} from './node-harness.ts';
import type { RuntimeUnderTest, StartRuntime } from './runtime-under-test.ts';
import { waitFor } from './wait-for.ts';

const NODE_NAME = 'node1';
const MIN_AGE_MS = 20_000;

const manifest = (name: string, spec: string) => `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 1
${spec}`;

const manifests = {
  keeper: manifest('keeper', '  containers: [{name: main, image: "busybox:1.36", command: [sleep, "3600"]}]'),
  done: manifest('done', '  restartPolicy: Never\n  containers: [{name: main, image: "gc/done:1", command: ["true"]}]'),
  exiter: (name: string, seconds: number, code: number) =>
    manifest(
      name,
      `  restartPolicy: Never\n  containers: [{name: main, image: "busybox:1.36", command: [sh, -c, "sleep ${seconds}; exit ${code}"]}]`,
    ),
  crasher: manifest('crasher', '  containers: [{name: main, image: "busybox:1.36", command: [sh, -c, "echo run; exit 1"]}]'),
};

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface PlegGcExpectations {
  /** The runtime offers GetContainerEvents: the node relists only once (at start) and still sees every change. */
  containerEvents: boolean;
}

export function plegAndGcScenarios(runtimeTitle: string, start: StartRuntime, subnet: string, expect: PlegGcExpectations): void {
  describe(`berth node: evented PLEG and garbage collection, ${runtimeTitle}`, { timeout: 420_000 }, () => {
    let dir: string;
    let manifestDir: string;
    let registry: TestRegistry | undefined;
    let runtime: RuntimeUnderTest | undefined;
    let cri: CriClient | undefined;
    let provider: PodProvider | undefined;
    let node: RunningNode | undefined;
    const unusedImages = new Map<string, string>();
    const logs: LogLine[] = [];
    const nodeEvents: { type: string; reason: string; message: string }[] = [];

    const pod = (name: string): Pod | undefined => node?.pod('default', `${name}-${NODE_NAME}`);
    const describePods = () =>
      `${podsReport(node)}\nnode log tail: ${logs
        .slice(-30)
        .map((l) => JSON.stringify(l))
        .join('\n')}\n${runtimeLogTail(runtimeTitle, runtime, 3000)}`;
    const relists = async () => {
      const text = await (await fetch(`${readOnlyBase(node!)}/metrics`)).text();
      return Number(/^kubelet_pleg_relist_duration_seconds_count(?:\{\})? (\d+)$/m.exec(text)?.[1]);
    };
    const imageIds = async () => new Set((await cri!.image.listImages({})).images.map((i) => i.id));
    const imageId = async (ref: string) => (await cri!.image.imageStatus({ image: { image: ref } })).image?.id;

    before(async () => {
      ({ dir, manifestDir } = await makeNodeDirs('berth-pleg-gc-test-'));
      registry = await startRegistryWithBaseImages();
      for (const name of ['unused-a', 'unused-b', 'done']) {
        await pushImage(registry, `gc/${name}:1`, busyboxLikeImage({ config: { Labels: { 'berth.test/image': name } } }));
      }
      runtime = await start(registry, { subnet });
      cri = connectCri(runtime.endpoint);
      // The sandbox image is there before any pod (berth pulls it only for pods that share a PID namespace).
      for (const ref of ['registry.k8s.io/pause:3.9', 'gc/unused-a:1', 'gc/unused-b:1']) {
        const { imageRef } = await cri.image.pullImage({ image: { image: ref } }, { timeoutMs: 60_000 });
        if (ref.startsWith('gc/')) unusedImages.set(ref, (await imageId(ref)) ?? imageRef);
      }
      const sink = new Writable({
        write(chunk, _encoding, done) {
          for (const line of String(chunk).split('\n').filter(Boolean)) logs.push(JSON.parse(line) as LogLine);
          done();
        },
      });
      const logger = pino({ level: 'debug' }, sink);
      const events: EventRecorder = {
        podEvent: () => {},
        nodeEvent: (type, reason, message) => nodeEvents.push({ type, reason, message }),
      };
      ({ provider, node } = await startCriNode({
        nodeName: NODE_NAME,
        runtime,
        dir,
        manifestDir,
        logger,
        events,
        nodeEvents: events,
        providerConfig: {
          rootDir: path.join(dir, 'node'),
          imageGCHighThresholdPercent: 1,
          imageGCLowThresholdPercent: 0,
          imageMinimumGCAgeMs: MIN_AGE_MS,
          imageGCPeriodMs: 1000,
        },
        // With container events the relist runs once, at the start, within this file's time.
        timings: { relistMs: expect.containerEvents ? 600_000 : 1000, manifestScanMs: 300, retryBaseMs: 500 },
        nodeApi: true,
      }));
    });

    after(async () => {
      cri?.close();
      await stopNodeStack({ node, provider, runtime, registry });
      await removeDir(dir);
    });

    test('image GC over its thresholds removes unused images after their minimum age; images of containers and the pinned sandbox image stay', async () => {
      const failed = await waitFor(
        'a GC round that could not free enough',
        () => nodeEvents.find((e) => e.reason === 'FreeDiskSpaceFailed'),
        {
          timeoutMs: 10_000,
        },
      );
      assert.equal(failed.type, 'Warning');
      assert.match(
        failed.message,
        /^Failed to garbage collect required amount of images\. Attempted to free \d+ bytes, but only found \d+ bytes eligible to free\.$/,
      );
      // That round found nothing it could remove: the unused images were younger than their minimum age.
      assert.match(failed.message, /but only found 0 bytes eligible to free\.$/, 'the unused images were not eligible yet');
      const present = await imageIds();
      for (const [ref, id] of unusedImages) assert.ok(present.has(id), `${ref} stays until its minimum age`);

      await writeFile(path.join(manifestDir, 'keeper.yaml'), manifests.keeper);
      await writeFile(path.join(manifestDir, 'done.yaml'), manifests.done);
      await waitFor('keeper Running', () => (pod('keeper')?.status?.containerStatuses?.[0]?.state.running ? true : undefined), {
        timeoutMs: 60_000,
        describe: describePods,
      });
      await waitFor('done Succeeded', () => (pod('done')?.status?.phase === 'Succeeded' ? true : undefined), {
        timeoutMs: 60_000,
        describe: describePods,
      });
      await waitFor(
        'the unused images removed',
        async () => {
          const ids = await imageIds();
          return [...unusedImages.values()].every((id) => !ids.has(id)) ? true : undefined;
        },
        { timeoutMs: 60_000, describe: describePods },
      );
      const removedLogged = logs.filter((l) => l.msg === 'removing an unused image').map((l) => l.imageID);
      for (const id of unusedImages.values()) assert.ok(removedLogged.includes(id), `removal of ${id} logged`);

      // Two more GC rounds (each fails, over the thresholds on purpose) leave the rest alone.
      const rounds = () => logs.filter((l) => String(l.msg).startsWith('image garbage collection failed')).length;
      const roundsSoFar = rounds();
      await waitFor('two more GC rounds', () => (rounds() >= roundsSoFar + 2 ? true : undefined), { timeoutMs: 30_000 });
      const left = await imageIds();
      for (const ref of ['busybox:1.36', 'gc/done:1', 'registry.k8s.io/pause:3.9']) {
        const id = await imageId(ref);
        assert.ok(id !== undefined && left.has(id), `${ref} stays (${ref === 'gc/done:1' ? 'its container exited' : 'in use or pinned'})`);
      }
      assert.ok(
        nodeEvents.some((e) => e.type === 'Warning' && e.reason === 'ImageGCFailed' && e.message.startsWith('Failed to garbage collect')),
        'repeated failures are ImageGCFailed events',
      );
    });

    test(`a container exit reaches the node ${expect.containerEvents ? 'through container events, without a relist' : 'through the relist'}`, async () => {
      await writeFile(path.join(manifestDir, 'quick.yaml'), manifests.exiter('quick', 3, 3));
      await waitFor('quick running', () => (pod('quick')?.status?.containerStatuses?.[0]?.state.running ? true : undefined), {
        timeoutMs: 60_000,
        intervalMs: 50,
        describe: describePods,
      });
      const terminated = await waitFor('quick terminated', () => pod('quick')?.status?.containerStatuses?.[0]?.state.terminated, {
        timeoutMs: 30_000,
        intervalMs: 50,
        describe: describePods,
      });
      assert.equal(terminated.exitCode, 3);
      assert.equal(pod('quick')?.status?.phase, 'Failed');
      // What brought the exit: with container events, no relist ran after the one at the start.
      if (expect.containerEvents) {
        assert.equal(await relists(), 1, 'only the relist at the start ran');
      } else {
        assert.ok((await relists()) > 10, 'the relist drives the node');
        assert.ok(
          logs.some((l) => l.msg === 'the container runtime offers no container events (GetContainerEvents); relisting only'),
          'the fallback is logged once, as information',
        );
      }
      // GC fails on purpose here, and pods without cluster DNS are warned about (MissingClusterDNS);
      // nothing about events or relisting may be.
      const problems = logs.filter(
        (l) =>
          !String(l.msg).startsWith('image garbage collection failed') &&
          (l.level >= 50 || (l.level >= 40 && /event|relist/i.test(String(l.msg)))),
      );
      assert.deepEqual(problems, [], 'no errors, no warnings about events or relisting');
    });

    if (expect.containerEvents) {
      test('after the runtime restarts, the event stream is opened again and exits are seen at once', async () => {
        await runtime!.restart!();
        await writeFile(path.join(manifestDir, 'again.yaml'), manifests.exiter('again', 8, 4));
        const terminated = await waitFor('again terminated', () => pod('again')?.status?.containerStatuses?.[0]?.state.terminated, {
          timeoutMs: 60_000,
          intervalMs: 50,
          describe: describePods,
        });
        assert.equal(terminated.exitCode, 4);
        assert.equal(await relists(), 1, 'still only the relist at the start');
        assert.ok(
          logs.some((l) => String(l.msg).startsWith('the container event stream')),
          'the broken stream is logged',
        );
      });
    }

    test('dead containers: the last dead instance of a crashing container stays, older ones go', async () => {
      await writeFile(path.join(manifestDir, 'crasher.yaml'), manifests.crasher);
      const uid = await waitFor('crasher known', () => pod('crasher')?.metadata.uid, { timeoutMs: 30_000 });
      let most = 0;
      let exitedSeen = false;
      let withoutDeadInstance = 0;
      const final = await waitFor(
        'the fourth run of crasher',
        async () => {
          const { containers } = await cri!.runtime.listContainers({ filter: { labelSelector: { 'io.kubernetes.pod.uid': uid } } });
          const exited = containers.filter((c) => c.state === ContainerState.CONTAINER_EXITED).length;
          most = Math.max(most, containers.length);
          if (exitedSeen && exited === 0) withoutDeadInstance++;
          exitedSeen ||= exited > 0;
          const status = pod('crasher')?.status?.containerStatuses?.[0];
          return status !== undefined && status.restartCount >= 3 ? { status, containers } : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 100, describe: describePods },
      );
      assert.ok(most <= 2, `never more than the newest and one dead instance (saw ${most})`);
      assert.equal(withoutDeadInstance, 0, 'once a run has exited, a dead instance is always there');
      const dead = final.containers.filter((c) => c.state === ContainerState.CONTAINER_EXITED).map((c) => c.metadata?.attempt ?? -1);
      assert.ok(dead.length >= 1, 'a dead instance is kept');
      // The one kept is the newest dead run (the node's restartCount may trail the runtime by a relist).
      assert.ok(Math.max(...dead) >= final.status.restartCount - 1, `the dead run kept is the last one: attempts ${dead}`);
    });

    test('every pod removed: nothing is left', async () => {
      const ids = {
        sandboxes: (await cri!.runtime.listPodSandbox({})).items.map((s) => s.id),
        containers: (await cri!.runtime.listContainers({})).containers.map((c) => c.id),
      };
      for (const name of ['keeper', 'done', 'quick', 'again', 'crasher'])
        await unlink(path.join(manifestDir, `${name}.yaml`)).catch(() => {});
      await waitFor(
        'no pod left in the runtime',
        async () => {
          const { items } = await cri!.runtime.listPodSandbox({});
          const { containers } = await cri!.runtime.listContainers({});
          return items.length === 0 && containers.length === 0 ? true : undefined;
        },
        { timeoutMs: 60_000, describe: describePods },
      );
      assert.deepEqual(await runtime!.leftovers(ids), [], `what ${runtimeTitle} left of the pods`);
      await node!.stop();
      await provider!.close?.();
      cri!.close();
      await runtime!.stop();
      assert.deepEqual(await runtime!.hostLeftovers(), []);
    });
  });
}
