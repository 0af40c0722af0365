// V8 CPU profiles of berth daemon, one per workload, through the inspector protocol (the daemon
// runs with --inspect on a loopback port when the benchmark profiles). The profiles are what
// `--cpu-prof` writes, but cut to one workload each instead of the daemon's whole life.

interface InspectorMessage {
  id?: number;
  result?: Record<string, unknown>;
  error?: { message: string };
}

export interface InspectorClient {
  send(method: string, params?: Record<string, unknown>): Promise<Record<string, unknown>>;
  close(): void;
}

/** Connects to the first target of the inspector on 127.0.0.1:`port`, waiting up to 10 s for it. */
export async function connectInspector(port: number): Promise<InspectorClient> {
  const deadline = Date.now() + 10_000;
  let url: string | undefined;
  while (url === undefined) {
    try {
      const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl?: string }[];
      url = targets[0]?.webSocketDebuggerUrl;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`no inspector on 127.0.0.1:${port}: ${(e as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true });
    ws.addEventListener('error', () => reject(new Error(`cannot open ${url}`)), { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  ws.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as InspectorMessage;
    if (message.id === undefined) return;
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(message.error.message));
    else waiter?.resolve(message.result ?? {});
  });
  ws.addEventListener('close', () => {
    for (const waiter of pending.values()) waiter.reject(new Error('inspector connection closed'));
    pending.clear();
  });
  return {
    send(method, params = {}) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => ws.close(),
  };
}

/** Starts the V8 sampling profiler (1 ms interval); stop() returns the .cpuprofile object. */
export async function startCpuProfile(client: InspectorClient): Promise<{ stop(): Promise<unknown> }> {
  await client.send('Profiler.enable');
  await client.send('Profiler.setSamplingInterval', { interval: 1000 });
  await client.send('Profiler.start');
  return {
    async stop() {
      const { profile } = await client.send('Profiler.stop');
      return profile;
    },
  };
}
