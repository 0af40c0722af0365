// The node's pods as `berth get pods` lists them (kubectl's printer, the same code).
import type { Pod } from '../../src/agent/k8s-types.ts';
import { podRow } from '../../src/cli/kube/pod-printer.ts';

export const podKey = (p: Pod) => `${p.metadata.namespace ?? 'default'}/${p.metadata.name}`;

function tone(status: string): string {
  if (status === 'Running' || status === 'Completed' || status === 'Succeeded') return 'ok';
  if (/BackOff|Err|Failed|Invalid|OOMKilled|Unknown/.test(status)) return 'bad';
  return 'wait';
}

export function PodList(props: { pods: Pod[]; now: number; selected?: string; onSelect: (key: string) => void }) {
  const pods = [...props.pods].sort((a, b) => podKey(a).localeCompare(podKey(b)));
  return (
    <table class="pods" data-testid="pod-list">
      <thead>
        <tr>
          <th>Namespace</th>
          <th>Name</th>
          <th>Ready</th>
          <th>Status</th>
          <th>Restarts</th>
          <th>Age</th>
          <th>IP</th>
        </tr>
      </thead>
      <tbody>
        {pods.map((p) => {
          const row = podRow(p, props.now);
          const key = podKey(p);
          return (
            <tr key={key} data-pod={p.metadata.name} class={key === props.selected ? 'selected' : ''} onClick={() => props.onSelect(key)}>
              <td class="muted">{p.metadata.namespace ?? 'default'}</td>
              <td class="name">{row.name}</td>
              <td data-col="ready">{row.ready}</td>
              <td data-col="status">
                <span class={`pill ${tone(row.status)}`}>{row.status}</span>
              </td>
              <td data-col="restarts">{row.restarts}</td>
              <td data-col="age">{row.age}</td>
              <td class="mono">{row.ip}</td>
            </tr>
          );
        })}
        {pods.length === 0 ? (
          <tr>
            <td colSpan={7} class="muted">
              No pods on this node.
            </td>
          </tr>
        ) : null}
      </tbody>
    </table>
  );
}
