// Events as `kubectl describe` lists them: type, reason, age, from, message.
import type { KubeEvent } from '../../src/agent/k8s-types.ts';
import { age } from './format.ts';

export function EventTable(props: { events: KubeEvent[]; withObject?: boolean }) {
  const events = [...props.events].sort((a, b) => Date.parse(b.lastTimestamp ?? '') - Date.parse(a.lastTimestamp ?? ''));
  if (events.length === 0) return <p class="muted">No events.</p>;
  return (
    <table class="events" data-testid="events">
      <thead>
        <tr>
          <th>Type</th>
          <th>Reason</th>
          <th>Age</th>
          {props.withObject ? <th>Object</th> : null}
          <th>Message</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => (
          <tr>
            <td>
              <span class={`pill ${e.type === 'Warning' ? 'bad' : 'ok'}`}>{e.type}</span>
            </td>
            <td>{e.reason}</td>
            <td class="small">
              {age(e.lastTimestamp ?? e.firstTimestamp)}
              {(e.count ?? 1) > 1 ? ` (×${e.count})` : ''}
            </td>
            {props.withObject ? (
              <td class="mono small">{`${e.involvedObject?.kind?.toLowerCase() ?? ''}/${e.involvedObject?.name ?? ''}`}</td>
            ) : null}
            <td>{e.message}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
