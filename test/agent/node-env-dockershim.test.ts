// Container environments from ConfigMaps, Secrets and the downward API through berth node's cri provider against berth dockershim on a real Docker Engine
// (test/agent/support/env-scenarios.ts), on a pod subnet of this file's own.
import { startDockershimRuntime } from './support/dockershim-runtime.ts';
import { envScenarios } from './support/env-scenarios.ts';

envScenarios('berth dockershim', startDockershimRuntime, '10.162.0.0/24');
