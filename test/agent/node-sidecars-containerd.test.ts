// Sidecars (restartable init containers) through berth node's cri provider against a real
// containerd (test/agent/support/sidecar-scenarios.ts), on a pod subnet of this file's own.
import { startContainerdRuntime } from './support/containerd.ts';
import { sidecarScenarios } from './support/sidecar-scenarios.ts';

sidecarScenarios('containerd', startContainerdRuntime, '10.77.0.0/24');
