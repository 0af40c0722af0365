// berth node's evented PLEG (CRI container events) and garbage collection against a real berth
// daemon (test/agent/support/pleg-gc-scenarios.ts).
import { startBerthRuntime } from './support/berth-runtime.ts';
import { plegAndGcScenarios } from './support/pleg-gc-scenarios.ts';

plegAndGcScenarios('berth daemon', startBerthRuntime, '10.87.0.0/24', { containerEvents: true });
