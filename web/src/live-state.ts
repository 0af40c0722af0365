// The node's state as the dashboard stream sends it: one EventSource, reconnecting by itself.
import { useEffect, useState } from 'preact/hooks';
import type { DashboardState } from '../../src/agent/dashboard.ts';

export type { DashboardState };

export interface Live {
  state?: DashboardState;
  connected: boolean;
}

export function useLiveState(): Live {
  const [live, setLive] = useState<Live>({ connected: false });
  useEffect(() => {
    const source = new EventSource('api/stream');
    source.addEventListener('state', (e) =>
      setLive({ state: JSON.parse((e as MessageEvent<string>).data) as DashboardState, connected: true }),
    );
    source.onerror = () => setLive((l) => ({ ...l, connected: false }));
    return () => source.close();
  }, []);
  return live;
}
