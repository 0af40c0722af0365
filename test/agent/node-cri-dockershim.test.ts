// berth node with the cri provider against berth dockershim on a real Docker Engine
// (test/agent/support/dockershim-runtime.ts): the same scenarios and manifests as against
// containerd and berth daemon (test/agent/support/node-scenarios.ts).
import { startDockershimRuntime } from './support/dockershim-runtime.ts';
import { nodeScenarios } from './support/node-scenarios.ts';

nodeScenarios('berth dockershim', startDockershimRuntime);
