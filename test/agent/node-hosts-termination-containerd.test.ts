// The kubelet-managed /etc/hosts and termination messages through berth node's cri provider against
// a real containerd (test/agent/support/hosts-termination-scenarios.ts), on a pod subnet of this
// file's own.
import { startContainerdRuntime } from './support/containerd.ts';
import { hostsTerminationScenarios } from './support/hosts-termination-scenarios.ts';

hostsTerminationScenarios('containerd', startContainerdRuntime, '10.79.0.0/24');
