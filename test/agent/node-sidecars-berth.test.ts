// Sidecars (restartable init containers) through berth node's cri provider against a real berth
// daemon (test/agent/support/sidecar-scenarios.ts), on a pod subnet of this file's own.
import { startBerthRuntime } from './support/berth-runtime.ts';
import { sidecarScenarios } from './support/sidecar-scenarios.ts';

sidecarScenarios('berth daemon', startBerthRuntime, '10.78.0.0/24');
