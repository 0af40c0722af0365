// Pod volumes through berth node's cri provider against a real berth daemon
// (test/agent/support/volume-scenarios.ts), on a pod subnet of its own.
import { startBerthRuntime } from './support/berth-runtime.ts';
import { volumeScenarios } from './support/volume-scenarios.ts';

volumeScenarios('berth daemon', startBerthRuntime, '10.92.0.0/24');
