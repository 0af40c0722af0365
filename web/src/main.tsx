// The berth node dashboard.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { EventTable } from './events.tsx';
import { useLiveState } from './live-state.ts';
import { NodePanel } from './node-panel.tsx';
import { PodDetail } from './pod-detail.tsx';
import { PodList, podKey } from './pod-list.tsx';
import './styles.css';

function useHash(): [string, (v: string) => void] {
  const [hash, setHash] = useState(decodeURIComponent(location.hash.slice(1)));
  useEffect(() => {
    const on = () => setHash(decodeURIComponent(location.hash.slice(1)));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return [hash, (v) => (location.hash = encodeURIComponent(v))];
}

function App() {
  const { state, connected } = useLiveState();
  const [selected, select] = useHash();
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 1000);
    return () => clearInterval(t);
  }, []);
  if (!state) return <p class="loading">Connecting to the node…</p>;
  const pod = state.pods.find((p) => podKey(p) === selected);
  return (
    <div class="layout">
      <NodePanel node={state.node} pods={state.pods} connected={connected} />
      <main class="columns">
        <section class="card">
          <h2>Pods</h2>
          <PodList pods={state.pods} now={Date.now()} selected={pod ? selected : undefined} onSelect={select} />
        </section>
        <section class="card">
          {pod ? (
            <PodDetail pod={pod} events={state.events} series={state.series[pod.metadata.uid ?? '']} />
          ) : (
            <>
              <h2>Node events</h2>
              <EventTable events={state.events} withObject />
            </>
          )}
        </section>
      </main>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
