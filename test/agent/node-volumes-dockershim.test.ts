// Pod volumes through berth node's cri provider against berth dockershim on a real Docker Engine
// (test/agent/support/volume-scenarios.ts), on a pod subnet of this file's own.
import { startDockershimRuntime } from './support/dockershim-runtime.ts';
import { volumeScenarios } from './support/volume-scenarios.ts';

volumeScenarios('berth dockershim', startDockershimRuntime, '10.168.0.0/24');
