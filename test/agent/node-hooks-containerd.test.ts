// Lifecycle hooks and gRPC probes through berth node's cri provider against a real containerd
// (test/agent/support/hook-scenarios.ts), on a pod subnet of this file's own.
import { startContainerdRuntime } from './support/containerd.ts';
import { hookScenarios } from './support/hook-scenarios.ts';

hookScenarios('containerd', startContainerdRuntime, '10.89.0.0/24');
