// The kubelet-managed /etc/hosts and termination messages through berth node's cri provider against
// a real berth daemon (test/agent/support/hosts-termination-scenarios.ts), on a pod subnet of this
// file's own.
import { startBerthRuntime } from './support/berth-runtime.ts';
import { hostsTerminationScenarios } from './support/hosts-termination-scenarios.ts';

hostsTerminationScenarios('berth daemon', startBerthRuntime, '10.80.0.0/24');
