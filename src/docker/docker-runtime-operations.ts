// The dockershim's CRI RuntimeService: CRI requests ⇄ DockerPods, one short entry per RPC.
import type Docker from 'dockerode';
import { CgroupDriver, PodSandboxState } from '../cri-api/gen/runtime/v1/api_pb.js';
import type { RuntimeOperations } from '../cri-api/operations.ts';
import { invalidArgument, isBerthError } from '../errors/errors.ts';
import type { PodNetwork } from '../network/pod-network.ts';
import type { CgroupLayout } from '../runtime/cgroups/cgroup-layout.ts';
import {
  attachRequest,
  type ContainerLookup,
  execRequest,
  portForwardRequest,
  type SandboxLookup,
  type StreamingUrls,
} from '../streaming/daemon/stream-requests.ts';
import { criContainerFromListing, criContainerStatus, criSandboxFromListing, criSandboxStatus, sandboxState } from './docker-convert.ts';
import type { DockerEngine } from './docker-engine.ts';
import type { DockerPods } from './docker-pods.ts';
import { dockerContainerCgroupStats, dockerPodStats, sumCgroupStats } from './docker-stats.ts';
import { criContainerStats, criPodSandboxStats } from './docker-stats-convert.ts';

export const DOCKERSHIM_RUNTIME_NAME = 'docker';

export interface DockerRuntimeDeps {
  engine: DockerEngine;
  pods: DockerPods;
  network: PodNetwork;
  /** Exec, Attach and PortForward answer UNIMPLEMENTED without it. */
  streaming?: StreamingUrls;
  /** ExecSync answers UNIMPLEMENTED without it; `container` is the container as just inspected. */
  execSync?(
    container: Docker.ContainerInspectInfo,
    cmd: string[],
    timeoutMs: number,
    signal: AbortSignal,
  ): Promise<{ stdout: Uint8Array; stderr: Uint8Array; exitCode: number }>;
  /** Stats answer UNIMPLEMENTED without it. */
  stats?: { cgroups: CgroupLayout /** The image filesystem's mountpoint (Docker's data root). */; imageFs: string };
  /** The config Status shows with verbose. */
  verboseConfig?: unknown;
}

function need(value: string, what: string): string {
  if (!value) throw invalidArgument('missing-id', `${what} is required`);
  return value;
}

/** A one-entry lookup for the streaming request checks, from what Docker says of the object. */
function lookupOf(id: string, running: boolean): ContainerLookup & SandboxLookup {
  return {
    findContainer: () => ({ id, state: running ? 'running' : 'exited' }),
    findSandbox: () => ({ id, state: running ? 'ready' : 'notready' }),
  };
}

export function dockerRuntimeOperations(deps: DockerRuntimeDeps): RuntimeOperations {
  const { pods } = deps;
  const ops: RuntimeOperations = {
    async version() {
      return {
        version: '0.1.0',
        runtimeName: DOCKERSHIM_RUNTIME_NAME,
        runtimeVersion: deps.engine.engineVersion,
        runtimeApiVersion: 'v1',
      };
    },

    async status(request) {
      const runtimeReady = await deps.engine.docker.ping().then(
        () => ({ type: 'RuntimeReady', status: true, reason: '', message: '' }),
        (e: Error) => ({ type: 'RuntimeReady', status: false, reason: 'DockerDaemonNotReady', message: e.message }),
      );
      const net = await deps.network.status();
      const handlers = runtimeReady.status ? (await pods.runtimes()).names : [];
      return {
        status: {
          conditions: [
            runtimeReady,
            { type: 'NetworkReady', status: net.ready, reason: net.ready ? '' : 'NetworkPluginNotReady', message: net.message },
          ],
        },
        info: (request.verbose ? { config: JSON.stringify(deps.verboseConfig ?? {}) } : {}) as Record<string, string>,
        runtimeHandlers: [
          { name: '', features: { recursiveReadOnlyMounts: false, userNamespaces: false } },
          ...handlers.map((name) => ({ name, features: { recursiveReadOnlyMounts: false, userNamespaces: false } })),
        ],
        features: { supplementalGroupsPolicy: false },
      };
    },

    async runtimeConfig() {
      const info = await deps.engine.docker.info();
      return { linux: { cgroupDriver: info.CgroupDriver === 'systemd' ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS } };
    },

    async runPodSandbox(request, context) {
      if (!request.config) throw invalidArgument('missing-config', 'RunPodSandbox needs a config');
      return { podSandboxId: await pods.runPodSandbox(request.config, request.runtimeHandler, context.signal) };
    },

    async stopPodSandbox(request) {
      await pods.stopPodSandbox(need(request.podSandboxId, 'pod_sandbox_id'));
      return {};
    },

    async removePodSandbox(request) {
      await pods.removePodSandbox(need(request.podSandboxId, 'pod_sandbox_id'));
      return {};
    },

    async podSandboxStatus(request) {
      const inspect = await pods.inspectSandbox(need(request.podSandboxId, 'pod_sandbox_id'));
      const view = await pods.sandboxView(inspect);
      const info: Record<string, string> = request.verbose
        ? {
            info: JSON.stringify({
              pid: inspect.State.Pid,
              netNamespace: `/proc/${inspect.State.Pid}/ns/net`,
              image: inspect.Config.Image,
            }),
          }
        : {};
      return { status: criSandboxStatus(view), info };
    },

    async listPodSandbox(request) {
      const f = request.filter;
      const [listed, networked] = await Promise.all([
        pods.listSandboxes({ id: f?.id || undefined, labels: f?.labelSelector }),
        pods.networkedSandboxes(),
      ]);
      // The listing carries no runtime: the handler is in PodSandboxStatus (as with cri-dockerd).
      const items = listed.map((c) => criSandboxFromListing(c, c.HostConfig?.NetworkMode === 'host' || networked.has(c.Id), ''));
      return { items: f?.state ? items.filter((s) => s.state === f.state!.state) : items };
    },

    async createContainer(request) {
      if (!request.config) throw invalidArgument('missing-config', 'CreateContainer needs a config');
      const id = await pods.createContainer(need(request.podSandboxId, 'pod_sandbox_id'), request.config, request.sandboxConfig);
      return { containerId: id };
    },

    async startContainer(request) {
      await pods.startContainer(need(request.containerId, 'container_id'));
      return {};
    },

    async stopContainer(request) {
      await pods.stopContainer(need(request.containerId, 'container_id'), Number(request.timeout));
      return {};
    },

    async removeContainer(request) {
      await pods.removeContainer(need(request.containerId, 'container_id'));
      return {};
    },

    async listContainers(request) {
      const f = request.filter;
      const listed = await pods.listContainers({
        id: f?.id || undefined,
        sandboxId: f?.podSandboxId || undefined,
        labels: f?.labelSelector,
      });
      const items = listed.map(criContainerFromListing);
      return { containers: f?.state ? items.filter((c) => c.state === f.state!.state) : items };
    },

    async containerStatus(request) {
      const inspect = await pods.containerForStatus(need(request.containerId, 'container_id'));
      const info: Record<string, string> = request.verbose
        ? { info: JSON.stringify({ pid: inspect.State.Pid, sandboxID: inspect.Config.Labels?.['io.kubernetes.sandbox.id'] }) }
        : {};
      return { status: criContainerStatus(inspect, inspect.Config.Image), info };
    },

    async updateContainerResources(request) {
      const r = request.linux;
      await pods.updateContainerResources(need(request.containerId, 'container_id'), {
        cpuShares: Number(r?.cpuShares ?? 0),
        cpuQuota: Number(r?.cpuQuota ?? 0),
        cpuPeriod: Number(r?.cpuPeriod ?? 0),
        memory: Number(r?.memoryLimitInBytes ?? 0),
        memorySwap: Number(r?.memorySwapLimitInBytes ?? 0),
        cpusetCpus: r?.cpusetCpus,
        cpusetMems: r?.cpusetMems,
      });
      return {};
    },

    async reopenContainerLog(request) {
      await pods.reopenContainerLog(need(request.containerId, 'container_id'));
      return {};
    },
  };
  if (deps.execSync) {
    const execSync = deps.execSync;
    ops.execSync = async (request, context) => {
      // One inspect: the type check here, the running check in the exec (FAILED_PRECONDITION).
      const inspect = await pods.inspectContainer(need(request.containerId, 'container_id'));
      const r = await execSync(inspect, request.cmd, Number(request.timeout) * 1000, context.signal);
      return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
    };
  }
  if (deps.stats) {
    const { cgroups, imageFs } = deps.stats;
    const measured = async (id: string) => {
      const inspect = await pods.inspectContainer(id);
      return { inspect, stats: await dockerContainerCgroupStats(cgroups, inspect) };
    };
    const containerStats = async (id: string) => {
      const m = await measured(id);
      return criContainerStats(m.inspect, m.stats, imageFs);
    };
    const podStats = async (id: string) => {
      const sandbox = await pods.inspectSandbox(id);
      const raw = await Promise.all((await pods.listContainers({ sandboxId: sandbox.Id })).map((c) => measured(c.Id)));
      const pod = await dockerPodStats(cgroups, sandbox);
      // A pod without a cgroup parent of its own: its figures are those of its sandbox and containers.
      pod.cgroup ??= sumCgroupStats([await dockerContainerCgroupStats(cgroups, sandbox), ...raw.map((r) => r.stats)]);
      return criPodSandboxStats(
        sandbox,
        pod,
        raw.map((r) => criContainerStats(r.inspect, r.stats, imageFs)),
      );
    };
    // A container or pod removed between the list and its inspect is left out.
    const present = async <T>(p: Promise<T>) => p.catch((e: unknown) => (isBerthError(e, 'not-found') ? undefined : Promise.reject(e)));
    ops.containerStats = async (request) => ({ stats: await containerStats(need(request.containerId, 'container_id')) });
    ops.listContainerStats = async (request) => {
      const f = request.filter;
      const listed = await pods.listContainers({
        id: f?.id || undefined,
        sandboxId: f?.podSandboxId || undefined,
        labels: f?.labelSelector,
      });
      const stats = await Promise.all(listed.map((c) => present(containerStats(c.Id))));
      return { stats: stats.filter((x) => x !== undefined) };
    };
    ops.podSandboxStats = async (request) => ({ stats: await podStats(need(request.podSandboxId, 'pod_sandbox_id')) });
    ops.listPodSandboxStats = async (request) => {
      const f = request.filter;
      const listed = await pods.listSandboxes({ id: f?.id || undefined, labels: f?.labelSelector });
      const stats = await Promise.all(listed.map((s) => present(podStats(s.Id))));
      return { stats: stats.filter((x) => x !== undefined) };
    };
  }
  if (deps.streaming) {
    const streaming = deps.streaming;
    ops.exec = async (request) => {
      const inspect = await pods.inspectContainer(need(request.containerId, 'container_id'));
      return { url: streaming.execUrl(execRequest(lookupOf(inspect.Id, inspect.State.Running), request)) };
    };
    ops.attach = async (request) => {
      const inspect = await pods.inspectContainer(need(request.containerId, 'container_id'));
      return { url: streaming.attachUrl(attachRequest(lookupOf(inspect.Id, inspect.State.Running), request)) };
    };
    ops.portForward = async (request) => {
      const inspect = await pods.inspectSandbox(need(request.podSandboxId, 'pod_sandbox_id'));
      const ready = sandboxState(await pods.sandboxView(inspect)) === PodSandboxState.SANDBOX_READY;
      return { url: streaming.portForwardUrl(portForwardRequest(lookupOf(inspect.Id, ready), request)) };
    };
  }
  return ops;
}
