// RuntimeService: CRI requests ⇄ berth services. Only the RPCs built so far have handlers;
// the others answer UNIMPLEMENTED (the kubelet falls back only on that code).
import type { Config } from '../config/config.ts';
import { CRI_API_VERSION, KUBELET_API_VERSION, RUNTIME_NAME, RUNTIME_VERSION, runtimeConditions } from '../services/runtime-info.ts';
import { CgroupDriver, type RuntimeService } from './gen/runtime/v1/api_pb.js';
import type { ServiceHandlers } from './grpc-service.ts';

export interface RuntimeServiceDeps {
  config: Config;
  runtimeHandlerNames: string[];
  cgroupDriver: 'systemd' | 'cgroupfs';
}

export function runtimeServiceHandlers(deps: RuntimeServiceDeps): Partial<ServiceHandlers<typeof RuntimeService.method>> {
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
      const conditions = await runtimeConditions(deps.config);
      const info: Record<string, string> = {};
      if (request.verbose) {
        info.config = JSON.stringify(deps.config);
        const net = conditions.find((c) => c.type === 'NetworkReady');
        info.lastCNILoadStatus = net?.status ? 'OK' : (net?.message ?? '');
      }
      return {
        status: { conditions },
        info,
        runtimeHandlers: deps.runtimeHandlerNames.map((name) => ({
          name,
          features: { recursiveReadOnlyMounts: false, userNamespaces: false },
        })),
        features: { supplementalGroupsPolicy: false },
      };
    },

    async runtimeConfig() {
      return { linux: { cgroupDriver: deps.cgroupDriver === 'systemd' ? CgroupDriver.SYSTEMD : CgroupDriver.CGROUPFS } };
    },
  };
}
