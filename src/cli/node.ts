// berth node: the node agent (kubelet / Virtual Kubelet) on a provider; pods from a manifest folder
// and, with --kubeconfig, from a Kubernetes API server.
import os from 'node:os';
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
import { DEFAULT_ENDPOINT, defineCommand } from './command.ts';
import { NODE_API_FLAGS, nodeApiListeners } from './node-api-flags.ts';

/** `--image-gc-high-threshold 90` as `{ imageGCHighThresholdPercent: 90 }`; nothing when the flag is absent. */
function percentFlag(values: Record<string, string | undefined>, flag: string, key: string): Record<string, number> {
  const text = values[flag];
  if (text === undefined) return {};
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 0 || n > 100)
    throw invalidArgument('bad-flag', `--${flag}: not a percentage 0-100: ${text}`);
  return { [key]: n };
}

export const nodeCommand = defineCommand({
  name: 'node',
  summary: 'Run the node agent: pods from a manifest folder or an API server, through a provider (default: any CRI runtime)',
  flags: {
    manifests: {
      type: 'string',
      value: 'DIR',
      help: 'static pods (and, without --kubeconfig, their ConfigMaps and Secrets) from this folder',
    },
    kubeconfig: { type: 'string', value: 'FILE', help: 'pods from the API server this kubeconfig names' },
    'node-name': { type: 'string', value: 'NAME', help: 'the node name (default: the host name)' },
    'node-ip': { type: 'string', value: 'IP', help: "the node's address (default: detected)" },
    ...NODE_API_FLAGS,
    provider: { type: 'string', value: 'NAME|PATH', help: 'the provider (default cri)' },
    'pod-logs-dir': { type: 'string', value: 'DIR', help: 'container logs (default /var/log/pods)' },
    'root-dir': { type: 'string', value: 'DIR', help: 'pod volumes (default /var/lib/berth/node)' },
    'cgroup-root': { type: 'string', value: 'PATH', help: "the pods' cgroup parent" },
    'image-gc-high-threshold': { type: 'string', value: 'PERCENT', help: 'disk use that starts image garbage collection (default 85)' },
    'image-gc-low-threshold': { type: 'string', value: 'PERCENT', help: 'disk use image garbage collection brings back to (default 80)' },
    'container-log-max-size': { type: 'string', value: 'QUANTITY', help: 'a container log this large is rotated (default 10Mi)' },
    'container-log-max-files': { type: 'string', value: 'N', help: 'files kept per container log, the live one included (default 5)' },
    'log-level': { type: 'string', value: 'LEVEL', help: 'trace, debug, info, warn or error (default info)' },
  },
  async run({ flags, globals }) {
    // The CRI endpoints are crictl's global flags (-r, -i), given before or after `node`.
    const values: Record<string, string | undefined> = {
      ...flags,
      'runtime-endpoint': globals['runtime-endpoint'],
      'image-endpoint': globals['image-endpoint'],
    };
    const logger = createLogger(values['log-level'] ?? 'info');
    const nodeName = values['node-name'] ?? os.hostname().toLowerCase();
    const nodeIP = values['node-ip'] ?? defaultNodeAddress();
    const runtimeEndpoint = values['runtime-endpoint'] ?? process.env.CONTAINER_RUNTIME_ENDPOINT ?? DEFAULT_ENDPOINT;
    const rootDir = values['root-dir'] ?? DEFAULT_ROOT_DIR;
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
    const api = await nodeApiListeners(values, {
      rootDir,
      nodeName,
      nodeIP,
      logger,
      ...(apiServer ? { kubeConfig: apiServer.api.config } : {}),
    });
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
});
