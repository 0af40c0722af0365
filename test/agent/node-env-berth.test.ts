// Container environments from ConfigMaps, Secrets and the downward API (test/agent/support/env-scenarios.ts)
// against a real berth daemon.
import { startBerthRuntime } from './support/berth-runtime.ts';
import { envScenarios } from './support/env-scenarios.ts';

envScenarios('berth daemon', startBerthRuntime, '10.83.0.0/24');
