// The node: readiness, runtime and handlers, capacity and allocatable, what runs on it.
import type { DashboardNode } from '../../src/agent/dashboard.ts';
import type { Pod } from '../../src/agent/k8s-types.ts';
import { bytes, quantityValue } from './format.ts';

export function NodePanel(props: { node: DashboardNode; pods: Pod[]; connected: boolean }) {
  const n = props.node;
  const running = props.pods.filter((p) => p.status?.phase === 'Running').length;
  const memory = quantityValue(n.capacity.memory);
  return (
    <section class="node" data-testid="node">
      <div class="node-title">
        <h1>{n.name}</h1>
        <span class={`pill ${n.ready ? 'ok' : 'bad'}`} data-testid="node-ready">
          {n.ready ? 'Ready' : 'NotReady'}
        </span>
        <span class={`live ${props.connected ? 'on' : 'off'}`}>{props.connected ? 'live' : 'reconnecting…'}</span>
      </div>
      {n.message ? <p class="error">{n.message}</p> : null}
      <dl class="facts-grid">
        <div>
          <dt>Runtime</dt>
          <dd class="mono">{n.runtimeVersion ?? '—'}</dd>
        </div>
        <div>
          <dt>Handlers</dt>
          <dd>
            {n.runtimeHandlers.length === 0
              ? '—'
              : n.runtimeHandlers.map((h) => (
                  <span class="tag" title={h.features.join(', ') || 'no optional features'}>
                    {h.name || 'default'}
                  </span>
                ))}
          </dd>
        </div>
        <div>
          <dt>CPU</dt>
          <dd>
            {n.allocatable.cpu ?? '—'} of {n.capacity.cpu ?? '—'} allocatable
          </dd>
        </div>
        <div>
          <dt>Memory</dt>
          <dd>
            {bytes(memory)} ({bytes(n.memoryAvailableBytes)} available)
          </dd>
        </div>
        <div>
          <dt>Pods</dt>
          <dd>
            {props.pods.length} ({running} running) of {n.allocatable.pods ?? n.capacity.pods ?? '—'}
          </dd>
        </div>
        <div>
          <dt>System</dt>
          <dd class="small">
            {n.systemInfo.osImage ?? ''} · kernel {n.systemInfo.kernelVersion ?? '—'} · {n.systemInfo.architecture ?? ''}
          </dd>
        </div>
      </dl>
    </section>
  );
}
