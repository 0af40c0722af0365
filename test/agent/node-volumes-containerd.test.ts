// Pod volumes through berth node's cri provider against a real containerd
// (test/agent/support/volume-scenarios.ts), on a pod subnet of its own.
import { startContainerdRuntime } from './support/containerd.ts';
import { volumeScenarios } from './support/volume-scenarios.ts';

volumeScenarios('containerd', startContainerdRuntime, '10.91.0.0/24');
