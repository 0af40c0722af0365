// berth node's PLEG and garbage collection against Debian's containerd 1.6, which has no CRI
// container events: the node relists (test/agent/support/pleg-gc-scenarios.ts).
import { startContainerdRuntime } from './support/containerd.ts';
import { plegAndGcScenarios } from './support/pleg-gc-scenarios.ts';

plegAndGcScenarios('containerd', startContainerdRuntime, '10.86.0.0/24', { containerEvents: false });
