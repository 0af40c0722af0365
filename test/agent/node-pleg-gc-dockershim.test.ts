// The evented PLEG (CRI container events) and garbage collection through berth node's cri provider against berth dockershim on a real Docker Engine
// (test/agent/support/pleg-gc-scenarios.ts), on a pod subnet of this file's own.
import { startDockershimRuntime } from './support/dockershim-runtime.ts';
import { plegAndGcScenarios } from './support/pleg-gc-scenarios.ts';

plegAndGcScenarios('berth dockershim', startDockershimRuntime, '10.165.0.0/24', { containerEvents: true });
