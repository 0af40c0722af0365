// Sidecars (restartable init containers) through berth node's cri provider against berth dockershim on a real Docker Engine
// (test/agent/support/sidecar-scenarios.ts), on a pod subnet of this file's own.
import { startDockershimRuntime } from './support/dockershim-runtime.ts';
import { sidecarScenarios } from './support/sidecar-scenarios.ts';

sidecarScenarios('berth dockershim', startDockershimRuntime, '10.166.0.0/24');
