// The kubelet-managed /etc/hosts and termination messages through berth node's cri provider against berth dockershim on a real Docker Engine
// (test/agent/support/hosts-termination-scenarios.ts), on a pod subnet of this file's own.
import { startDockershimRuntime } from './support/dockershim-runtime.ts';
import { hostsTerminationScenarios } from './support/hosts-termination-scenarios.ts';

hostsTerminationScenarios('berth dockershim', startDockershimRuntime, '10.164.0.0/24');
