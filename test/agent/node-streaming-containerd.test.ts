// Exec, attach, port-forward, run and stats through berth node's API with the cri provider against
// a real containerd (Debian's; its streaming server speaks SPDY), the same scenarios as against
// berth daemon (test/agent/support/node-streaming-scenarios.ts); pods on 10.84.0.0/24.
import { startContainerdRuntime } from './support/containerd.ts';
import { nodeStreamingScenarios } from './support/node-streaming-scenarios.ts';

nodeStreamingScenarios('containerd', startContainerdRuntime, '10.84.0.0/24');
