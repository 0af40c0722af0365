// Lifecycle hooks and gRPC probes through berth node's cri provider against berth dockershim on a real Docker Engine
// (test/agent/support/hook-scenarios.ts), on a pod subnet of this file's own.
import { startDockershimRuntime } from './support/dockershim-runtime.ts';
import { hookScenarios } from './support/hook-scenarios.ts';

hookScenarios('berth dockershim', startDockershimRuntime, '10.163.0.0/24');
