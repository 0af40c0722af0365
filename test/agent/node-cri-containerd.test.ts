// berth node with the cri provider against a real containerd (Debian's), started by the test with
// its own root, state, socket and CNI network (test/support/containerd.ts). The scenarios are
// shared with node-cri-berth.test.ts (test/agent/support/node-scenarios.ts).
import { startContainerdRuntime } from './support/containerd.ts';
import { nodeScenarios } from './support/node-scenarios.ts';

nodeScenarios('containerd', startContainerdRuntime);
