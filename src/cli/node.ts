// berth node: the node agent (kubelet / Virtual Kubelet) on a provider; pods from a manifest folder
// and, with --kubeconfig, from a Kubernetes API server.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { ApiEventRecorder } from '../agent/apiserver/api-events.ts';
import { ApiConfigMapSource, ApiSecretSource } from '../agent/apiserver/api-object-sources.ts';
import { ApiServiceSource } from '../agent/apiserver/api-service-source.ts';
import { ApiTokenRequester } from '../agent/apiserver/api-token-requester.ts';
import { connectKubeApi, loadKubeConfig } from '../agent/apiserver/kube-api.ts';
import { NodeEventLog } from '../agent/event-log.ts';
import { runNode } from '../agent/node.ts';
import { defaultNodeAddress } from '../agent/node-address.ts';
import type { ConfigMapSource, ProviderContext, SecretSource } from '../agent/provider.ts';
import { ServiceAccountTokenManager } from '../agent/service-account-tokens.ts';
import { ManifestObjectStore } from '../agent/static-pods/manifest-object-store.ts';
import { invalidArgument } from '../errors/errors.ts';
import { DEFAULT_ROOT_DIR } from '../providers/cri/index.ts';
import { loadProvider } from '../providers/load-provider.ts';
import { createLogger } from '../util/logger.ts';
import type { Command } from './command.ts';
import { DEFAULT_ENDPOINT } from './command.ts';
import { NODE_API_FLAGS, NODE_API_USAGE, nodeApiListeners } from './node-api-flags.ts';

/** `--image-gc-high-threshold 90` as `{ imageGCHighThresholdPercent: 90 }`; nothing when the flag is absent. */
function percentFlag(values: Record<string, string | undefined>, flag: string, key: string): Record<string, number> {
  const text = values[flag];
  if (text === undefined) return {};
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0 || n > 100)
    throw invalidArgument('bad-flag', `--${flag}: not a percentage 0-100: ${text}`);
  return { [key]: n };
}

export const nodeCommand: Command = {
  name: 'node',
  summary: 'Run the node agent: pods from a manifest folder or an API server, through a provider (default: any CRI runtime)',
  usage: `node [--runtime-endpoint URL] [--manifests DIR] [--kubeconfig FILE] [--node-name NAME] [--node-ip IP] ${NODE_API_USAGE} [--provider NAME|PATH] [--pod-logs-dir DIR] [--root-dir DIR (pod volumes; default /var/lib/berth/node)] [--cgroup-root PATH] [--image-gc-high-threshold PERCENT (default 85)] [--image-gc-low-threshold PERCENT (default 80)] [--container-log-max-size QUANTITY (default 10Mi)] [--container-log-max-files N (default 5)] [--log-level LEVEL]`,
  async run(argv) {
    let values: Record<string, string | undefined>;
    try {
      ({ values } = parseArgs({
        args: argv,
        options: {
          'runtime-endpoint': { type: 'string', short: 'r' },
          'image-endpoint': { type: 'string', short: 'i' },
          manifests: { type: 'string' },
          'node-name': { type: 'string' },
          'node-ip': { type: 'string' },
          ...NODE_API_FLAGS,
          provider: { type: 'string' },
          kubeconfig: { type: 'string' },
          'pod-logs-dir': { type: 'string' },
          'root-dir': { type: 'string' },
          'cgroup-root': { type: 'string' },
          'image-gc-high-threshold': { type: 'string' },
          'image-gc-low-threshold': { type: 'string' },
          'container-log-max-size': { type: 'string' },
          'container-log-max-files': { type: 'string' },
          'log-level': { type: 'string' },
        },
      }));
    } catch (e) {
      throw invalidArgument('bad-flag', (e as Error).message);
    }
    const logger = createLogger(values['log-level'] ?? 'info');
    const nodeName = values['node-name'] ?? os.hostname().toLowerCase();
    const nodeIP = values['node-ip'] ?? defaultNodeAddress();
    const runtimeEndpoint = values['runtime-endpoint'] ?? process.env.CONTAINER_RUNTIME_ENDPOINT ?? DEFAULT_ENDPOINT;
    const rootDir = values['root-dir'] ?? DEFAULT_ROOT_DIR;
    const api = await nodeApiListeners(values, { rootDir, nodeName, nodeIP, logger });
    const controller = new AbortController();
    let apiServer: Parameters<typeof runNode>[0]['apiServer'];
    let secrets: SecretSource | undefined;
    let configMaps: ConfigMapSource | undefined;
    let apiOnly: Pick<ProviderContext, 'tokens' | 'services'> = {};
    // Standalone mode: ConfigMaps and Secrets come from files in the manifest folder.
    const manifestObjects = values.kubeconfig || values.manifests === undefined ? undefined : new ManifestObjectStore();
    if (values.kubeconfig) {
      let api: ReturnType<typeof connectKubeApi>;
      try {
        api = connectKubeApi(loadKubeConfig(values.kubeconfig));
      } catch (e) {
        throw invalidArgument('bad-kubeconfig', `--kubeconfig ${values.kubeconfig}: ${(e as Error).message}`, { cause: e });
      }
      apiServer = { api, events: new ApiEventRecorder({ api, nodeName, logger: logger.child({ component: 'events' }) }) };
      secrets = new ApiSecretSource(api);
      configMaps = new ApiConfigMapSource(api);
      apiOnly = { tokens: new ServiceAccountTokenManager(new ApiTokenRequester(api)), services: new ApiServiceSource(api) };
    } else if (manifestObjects !== undefined) {
      secrets = manifestObjects;
      configMaps = manifestObjects;
    }
    // Kept in memory for `berth describe pod`, and passed on to the API server when there is one.
    const eventLog = new NodeEventLog({ nodeName, logger: logger.child({ component: 'events' }), next: apiServer?.events });
    const provider = await loadProvider(values.provider ?? 'cri', {
      nodeName,
      nodeIP,
      logger,
      signal: controller.signal,
      events: eventLog,
      ...(secrets ? { secrets } : {}),
      ...(configMaps ? { configMaps } : {}),
      ...apiOnly,
      config: {
        runtimeEndpoint,
        imageEndpoint: values['image-endpoint'] ?? runtimeEndpoint,
        podLogsDir: values['pod-logs-dir'] ?? '/var/log/pods',
        ...(values['root-dir'] ? { rootDir: values['root-dir'] } : {}),
        ...(values['cgroup-root'] ? { cgroupParent: values['cgroup-root'] } : {}),
        ...percentFlag(values, 'image-gc-high-threshold', 'imageGCHighThresholdPercent'),
        ...percentFlag(values, 'image-gc-low-threshold', 'imageGCLowThresholdPercent'),
        ...(values['container-log-max-size'] ? { containerLogMaxSize: values['container-log-max-size'] } : {}),
        ...(values['container-log-max-files'] ? { containerLogMaxFiles: Number(values['container-log-max-files']) } : {}),
      },
    });
    const node = await runNode({
      nodeName,
      nodeIP,
      provider,
      logger,
      manifestDir: values.manifests,
      manifestObjects,
      apiServer,
      events: eventLog,
      recentEvents: (filter) => eventLog.list(filter),
      api,
    });
    logger.info(
      { nodeName, manifests: values.manifests, kubeconfig: values.kubeconfig, api: node.apiListening, runtimeEndpoint },
      'berth node running',
    );
    const signal = await new Promise<string>((resolve) => {
      for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve(s));
    });
    logger.info({ signal }, 'stopping berth node (pods keep running)');
    await node.stop();
    controller.abort();
    await provider.close?.();
    logger.flush();
    return 0;
  },
};
