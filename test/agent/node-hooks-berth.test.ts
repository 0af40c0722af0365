// Lifecycle hooks and gRPC probes through berth node's cri provider against a real berth daemon
// (test/agent/support/hook-scenarios.ts), on a pod subnet of this file's own.
import { startBerthRuntime } from './support/berth-runtime.ts';
import { hookScenarios } from './support/hook-scenarios.ts';

hookScenarios('berth daemon', startBerthRuntime, '10.90.0.0/24');
