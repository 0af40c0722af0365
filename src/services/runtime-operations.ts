// berth's CRI RuntimeService: CRI requests ⇄ berth's services, one screen per RPC: validate, call
// the service, convert. RPCs not built answer UNIMPLEMENTED (the kubelet falls back only on that
// code).
import type { Config } from '../config/config.ts';
import { CgroupDriver } from '../cri-api/gen/runtime/v1/api_pb.js';
import type { RuntimeOperations } from '../cri-api/operations.ts';
import { invalidArgument } from '../errors/errors.ts';
import type { CgroupLayout } from '../runtime/cgroups/cgroup-layout.ts';
import { attachRequest, execRequest, portForwardRequest, type StreamingUrls } from '../streaming/daemon/stream-requests.ts';
import { createContainer } from './container-create.ts';
import { containerEventsOperations } from './container-events-stream.ts';
import { execSync } from './container-exec-sync.ts';
import { removeContainer } from './container-remove.ts';
import { startContainer } from './container-start.ts';
import { containerStatus, listContainers } from './container-status.ts';
import { stopContainer } from './container-stop.ts';
import { reopenContainerLog, updateContainerResources } from './container-update.ts';
import {
  containerStateFromCri,
  containerVerboseInfo,
  criContainer,
  criContainerStatus,
  criPodSandbox,
  criPodSandboxStatus,
  sandboxStateFromCri,
  sandboxVerboseInfo,
} from './pod-convert.ts';
import type { PodDeps } from './pod-deps.ts';
import { CRI_API_VERSION, handlerFeatures, KUBELET_API_VERSION, RUNTIME_NAME, RUNTIME_VERSION, runtimeConditions } from './runtime-info.ts';
import { removePodSandbox } from './sandbox-remove.ts';
import { runPodSandbox } from './sandbox-run.ts';
import { listPodSandboxes, podSandboxStatus } from './sandbox-status.ts';
import { stopPodSandbox } from './sandbox-stop.ts';
import { containerStats, podStats } from './stats.ts';
import { criContainerStats, criPodSandboxStats } from './stats-convert.ts';

export interface BerthRuntimeDeps {
  config: Config;
  pods: PodDeps;
  cgroups: CgroupLayout;
  /** Exec, Attach and PortForward answer UNIMPLEMENTED without it. */
  streaming?: StreamingUrls;
  /** The runtime handlers Status announces (default: every configured one). */
  runtimeHandlers?: string[];
}

function need(value: string, what: string): string {
  if (!value) throw invalidArgument('missing-id', `${what} is required`);
  return value;
}

export function berthRuntimeOperations(deps: BerthRuntimeDeps): RuntimeOperations {
  const { pods, config } = deps;
  return {
    async version() {
      return {
        version: KUBELET_API_VERSION,
        runtimeName: RUNTIME_NAME,
        runtimeVersion: RUNTIME_VERSION,
        runtimeApiVersion: CRI_API_VERSION,
      };
    },

    async status(request) {
      const conditions = await runtimeConditions(config);
      const info: Record<string, string> = {};
      if (request.verbose) {
        info.config = JSON.stringify(config);
        const net = conditions.find((c) => c.type === 'NetworkReady');
        info.lastCNILoadStatus = net?.status ? 'OK' : (net?.message ?? '');
      }
      return {
        status: { conditions },
        info,
        runtimeHandlers: (deps.runtimeHandlers ?? Object.keys(config.runtimes)).map((name) => ({
          name,
          features: handlerFeatures(),
        })),
        features: { supplementalGroupsPolicy: true },
      };
    },

    async runtimeConfig() {
      return { linux: { cgroupDriver: config.cgroup_driver === 'systemd' ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS } };
    },

    async runPodSandbox(request, context) {
      if (!request.config) throw invalidArgument('missing-config', 'RunPodSandbox needs a config');
      const s = await runPodSandbox(pods, request.config, request.runtimeHandler, context.signal);
      return { podSandboxId: s.id };
    },

    async stopPodSandbox(request) {
      await stopPodSandbox(pods, need(request.podSandboxId, 'pod_sandbox_id'));
      return {};
    },

    async removePodSandbox(request) {
      await removePodSandbox(pods, need(request.podSandboxId, 'pod_sandbox_id'));
      return {};
    },

    async podSandboxStatus(request) {
      const s = podSandboxStatus(pods, need(request.podSandboxId, 'pod_sandbox_id'));
      return { status: criPodSandboxStatus(s), info: request.verbose ? sandboxVerboseInfo(s) : {} };
    },

    async listPodSandbox(request) {
      const f = request.filter;
      const items = listPodSandboxes(pods, {
        id: f?.id || undefined,
        state: f?.state ? sandboxStateFromCri[f.state.state] : undefined,
        labelSelector: f?.labelSelector,
      });
      return { items: items.map(criPodSandbox) };
    },

    async createContainer(request, context) {
      if (!request.config) throw invalidArgument('missing-config', 'CreateContainer needs a config');
      const c = await createContainer(
        pods,
        need(request.podSandboxId, 'pod_sandbox_id'),
        request.config,
        request.sandboxConfig,
        context.signal,
      );
      return { containerId: c.id };
    },

    async startContainer(request, context) {
      await startContainer(pods, need(request.containerId, 'container_id'), context.signal);
      return {};
    },

    async stopContainer(request) {
      await stopContainer(pods, need(request.containerId, 'container_id'), Number(request.timeout));
      return {};
    },

    async removeContainer(request) {
      await removeContainer(pods, need(request.containerId, 'container_id'));
      return {};
    },

    async listContainers(request) {
      const f = request.filter;
      const items = listContainers(pods, {
        id: f?.id || undefined,
        state: f?.state ? containerStateFromCri[f.state.state] : undefined,
        podSandboxId: f?.podSandboxId || undefined,
        labelSelector: f?.labelSelector,
      });
      return { containers: items.map(criContainer) };
    },

    async containerStatus(request) {
      const c = containerStatus(pods, need(request.containerId, 'container_id'));
      return { status: criContainerStatus(c), info: request.verbose ? await containerVerboseInfo(c) : {} };
    },

    async updateContainerResources(request) {
      await updateContainerResources(pods, need(request.containerId, 'container_id'), request.linux);
      return {};
    },

    async reopenContainerLog(request) {
      await reopenContainerLog(pods, need(request.containerId, 'container_id'));
      return {};
    },

    async containerStats(request) {
      const c = containerStatus(pods, need(request.containerId, 'container_id'));
      return { stats: criContainerStats(await containerStats(pods, deps.cgroups, c), pods.images.snapshotRoot) };
    },

    async listContainerStats(request) {
      const f = request.filter;
      const items = listContainers(pods, {
        id: f?.id || undefined,
        podSandboxId: f?.podSandboxId || undefined,
        labelSelector: f?.labelSelector,
      });
      const stats = await Promise.all(items.map((c) => containerStats(pods, deps.cgroups, c)));
      return { stats: stats.map((r) => criContainerStats(r, pods.images.snapshotRoot)) };
    },

    async podSandboxStats(request) {
      const s = podSandboxStatus(pods, need(request.podSandboxId, 'pod_sandbox_id'));
      return { stats: criPodSandboxStats(await podStats(pods, deps.cgroups, s), pods.images.snapshotRoot) };
    },

    async listPodSandboxStats(request) {
      const f = request.filter;
      const items = listPodSandboxes(pods, { id: f?.id || undefined, labelSelector: f?.labelSelector });
      const stats = await Promise.all(items.map((s) => podStats(pods, deps.cgroups, s)));
      return { stats: stats.map((r) => criPodSandboxStats(r, pods.images.snapshotRoot)) };
    },

    async execSync(request, context) {
      const r = await execSync(pods, need(request.containerId, 'container_id'), request.cmd, Number(request.timeout), context.signal);
      return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode };
    },

    ...(deps.streaming ? streamingOperations(pods, deps.streaming) : {}),
    ...containerEventsOperations(pods.events, config.container_events_buffer),
  };
}

function streamingOperations(pods: PodDeps, streaming: StreamingUrls): RuntimeOperations {
  return {
    async exec(request) {
      return { url: streaming.execUrl(execRequest(pods.store, request)) };
    },
    async attach(request) {
      return { url: streaming.attachUrl(attachRequest(pods.store, request)) };
    },
    async portForward(request) {
      return { url: streaming.portForwardUrl(portForwardRequest(pods.store, request)) };
    },
  };
}
