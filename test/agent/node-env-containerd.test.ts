// Container environments from ConfigMaps, Secrets and the downward API (test/agent/support/env-scenarios.ts)
// against a real containerd.
import { startContainerdRuntime } from './support/containerd.ts';
import { envScenarios } from './support/env-scenarios.ts';

envScenarios('containerd', startContainerdRuntime, '10.82.0.0/24');
