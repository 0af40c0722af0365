// berth node with the cri provider against a real berth daemon (test/support/daemon.ts) with its own
// root, state, socket and CNI network (test/agent/support/berth-runtime.ts): the same scenarios
// and manifests as against containerd (test/agent/support/node-scenarios.ts).
import { startBerthRuntime } from './support/berth-runtime.ts';
import { nodeScenarios } from './support/node-scenarios.ts';

nodeScenarios('berth daemon', startBerthRuntime);
