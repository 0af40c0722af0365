// Exec, attach, port-forward, run and stats through berth node's API through berth node's cri provider against berth dockershim on a real Docker Engine
// (test/agent/support/node-streaming-scenarios.ts), on a pod subnet of this file's own.
import { startDockershimRuntime } from './support/dockershim-runtime.ts';
import { nodeStreamingScenarios } from './support/node-streaming-scenarios.ts';

nodeStreamingScenarios('berth dockershim', startDockershimRuntime, '10.167.0.0/24');
