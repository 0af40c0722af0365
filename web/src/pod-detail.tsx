// One pod: its containers with state, restarts and probes; logs; charts; events; its YAML.
import { useState } from 'preact/hooks';
import { stringify } from 'yaml';
import type { Sample } from '../../src/agent/dashboard.ts';
import type { Container, ContainerStatus, KubeEvent, Pod, Probe } from '../../src/agent/k8s-types.ts';
import { Chart } from './chart.tsx';
import { EventTable } from './events.tsx';
import { age } from './format.ts';
import { Logs } from './logs.tsx';

type Tab = 'containers' | 'logs' | 'metrics' | 'events' | 'yaml';

function stateOf(s: ContainerStatus | undefined): { text: string; tone: string; detail?: string } {
  if (!s) return { text: 'Pending', tone: 'wait' };
  if (s.state?.running) return { text: 'Running', tone: 'ok', detail: `since ${age(s.state.running.startedAt)}` };
  if (s.state?.waiting)
    return {
      text: s.state.waiting.reason ?? 'Waiting',
      tone: /BackOff|Err/.test(s.state.waiting.reason ?? '') ? 'bad' : 'wait',
      detail: s.state.waiting.message,
    };
  if (s.state?.terminated) {
    const t = s.state.terminated;
    return { text: t.reason ?? 'Terminated', tone: t.exitCode === 0 ? 'ok' : 'bad', detail: `exit code ${t.exitCode}` };
  }
  return { text: 'Unknown', tone: 'wait' };
}

function probeText(p: Probe | undefined): string | undefined {
  if (!p) return undefined;
  const how = p.exec
    ? `exec ${p.exec.command?.join(' ')}`
    : p.httpGet
      ? `http-get :${p.httpGet.port}${p.httpGet.path ?? '/'}`
      : p.tcpSocket
        ? `tcp :${p.tcpSocket.port}`
        : p.grpc
          ? `grpc :${p.grpc.port}`
          : '?';
  return `${how} every ${p.periodSeconds ?? 10}s`;
}

function Probes(props: { c: Container; s?: ContainerStatus }) {
  const rows: [string, string | undefined, boolean | undefined][] = [
    ['startup', probeText(props.c.startupProbe), props.s?.started],
    ['liveness', probeText(props.c.livenessProbe), props.s?.state?.running ? true : undefined],
    ['readiness', probeText(props.c.readinessProbe), props.s?.ready],
  ];
  const defined = rows.filter(([, text]) => text);
  if (defined.length === 0) return <span class="muted">none</span>;
  return (
    <ul class="probes">
      {defined.map(([kind, text, ok]) => (
        <li>
          <span class={`dot ${ok === undefined ? 'wait' : ok ? 'ok' : 'bad'}`} /> {kind}: {text}
        </li>
      ))}
    </ul>
  );
}

function Containers(props: { pod: Pod }) {
  const statuses = [...(props.pod.status?.initContainerStatuses ?? []), ...(props.pod.status?.containerStatuses ?? [])];
  const all = [
    ...(props.pod.spec.initContainers ?? []).map((c) => ({ c, init: true })),
    ...props.pod.spec.containers.map((c) => ({ c, init: false })),
  ];
  return (
    <table class="containers" data-testid="containers">
      <thead>
        <tr>
          <th>Container</th>
          <th>Image</th>
          <th>State</th>
          <th>Ready</th>
          <th>Restarts</th>
          <th>Last state</th>
          <th>Probes</th>
        </tr>
      </thead>
      <tbody>
        {all.map(({ c, init }) => {
          const s = statuses.find((x) => x.name === c.name);
          const st = stateOf(s);
          const last = s?.lastState?.terminated;
          return (
            <tr data-container={c.name}>
              <td class="name">
                {c.name}
                {init ? <span class="tag">init</span> : null}
              </td>
              <td class="mono">{c.image}</td>
              <td>
                <span class={`pill ${st.tone}`}>{st.text}</span>
                {st.detail ? <div class="muted small">{st.detail}</div> : null}
              </td>
              <td>{s?.ready ? 'yes' : 'no'}</td>
              <td data-col="restarts">{s?.restartCount ?? 0}</td>
              <td class="small">{last ? `${last.reason ?? 'Terminated'} (${last.exitCode}) ${age(last.finishedAt)} ago` : '—'}</td>
              <td>
                <Probes c={c} s={s} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function PodDetail(props: { pod: Pod; events: KubeEvent[]; series: Record<string, Sample[]> | undefined }) {
  const [tab, setTab] = useState<Tab>('containers');
  const { pod } = props;
  const ns = pod.metadata.namespace ?? 'default';
  const names = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c) => c.name);
  const podEvents = props.events.filter(
    (e) =>
      e.involvedObject?.uid === pod.metadata.uid || (e.involvedObject?.name === pod.metadata.name && e.involvedObject?.namespace === ns),
  );
  const series = props.series ?? {};
  const containerSeries = pod.spec.containers.map((c) => ({ label: c.name, samples: series[c.name] ?? [] }));
  const tabs: [Tab, string][] = [
    ['containers', 'Containers'],
    ['logs', 'Logs'],
    ['metrics', 'CPU & memory'],
    ['events', `Events (${podEvents.length})`],
    ['yaml', 'YAML'],
  ];
  return (
    <section class="detail" data-testid="pod-detail" data-pod={pod.metadata.name}>
      <header>
        <h2>
          {pod.metadata.name} <span class="muted">in {ns}</span>
        </h2>
        <div class="facts">
          <span>phase {pod.status?.phase ?? 'Pending'}</span>
          <span>QoS {pod.status?.qosClass ?? '—'}</span>
          <span>IP {pod.status?.podIP ?? '—'}</span>
          <span>started {age(pod.status?.startTime)} ago</span>
          {pod.spec.runtimeClassName ? <span>runtime class {pod.spec.runtimeClassName}</span> : null}
        </div>
      </header>
      <nav class="tabs">
        {tabs.map(([t, label]) => (
          <button type="button" class={t === tab ? 'active' : ''} onClick={() => setTab(t)} data-tab={t}>
            {label}
          </button>
        ))}
      </nav>
      {tab === 'containers' ? <Containers pod={pod} /> : null}
      {tab === 'logs' ? <Logs namespace={ns} pod={pod.metadata.name ?? ''} containers={names} /> : null}
      {tab === 'metrics' ? (
        <div class="charts">
          <Chart title="CPU" kind="cpu" series={[{ label: 'pod', samples: series[''] ?? [] }, ...containerSeries]} />
          <Chart title="Memory (working set)" kind="memory" series={[{ label: 'pod', samples: series[''] ?? [] }, ...containerSeries]} />
        </div>
      ) : null}
      {tab === 'events' ? <EventTable events={podEvents} /> : null}
      {tab === 'yaml' ? (
        <pre class="yaml" data-testid="pod-yaml">
          {stringify(pod)}
        </pre>
      ) : null}
    </section>
  );
}
