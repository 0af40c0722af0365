// Exec, attach, port-forward, run and stats through berth node's API with the cri provider against
// a real berth daemon (test/agent/support/node-streaming-scenarios.ts); pods on 10.85.0.0/24.
import { startBerthRuntime } from './support/berth-runtime.ts';
import { nodeStreamingScenarios } from './support/node-streaming-scenarios.ts';

nodeStreamingScenarios('berth daemon', startBerthRuntime, '10.85.0.0/24');
