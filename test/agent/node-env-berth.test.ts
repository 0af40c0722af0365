// Container environments from ConfigMaps, Secrets and the downward API against a real berth daemon:
// from files in the manifest folder (test/agent/support/env-scenarios.ts), then from the API server
// (test/agent/support/env-apiserver-scenario.ts). The two run one after the other on one subnet.
import { startBerthRuntime } from './support/berth-runtime.ts';
import { envApiServerScenario } from './support/env-apiserver-scenario.ts';
import { envScenarios } from './support/env-scenarios.ts';

const SUBNET = '10.83.0.0/24';
envScenarios('berth daemon', startBerthRuntime, SUBNET);
envApiServerScenario(SUBNET);
