// A container's log, streamed from the node API (follow, tail, previous instance).
import { useEffect, useRef, useState } from 'preact/hooks';

const MAX_CHARS = 512 * 1024;

export function Logs(props: { namespace: string; pod: string; containers: string[] }) {
  const [container, setContainer] = useState(props.containers[0] ?? '');
  const [previous, setPrevious] = useState(false);
  const [follow, setFollow] = useState(true);
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const pre = useRef<HTMLPreElement>(null);
  useEffect(() => {
    if (!props.containers.includes(container)) setContainer(props.containers[0] ?? '');
  }, [props.containers.join(',')]);
  useEffect(() => {
    if (!container) return;
    const abort = new AbortController();
    setText('');
    setError('');
    const q = new URLSearchParams({ tailLines: '500', follow: String(follow && !previous), ...(previous ? { previous: 'true' } : {}) });
    const url = `../containerLogs/${encodeURIComponent(props.namespace)}/${encodeURIComponent(props.pod)}/${encodeURIComponent(container)}?${q}`;
    (async () => {
      const res = await fetch(url, { signal: abort.signal });
      if (!res.ok || !res.body) {
        setError((await res.text()).trim() || `HTTP ${res.status}`);
        return;
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        setText((t) => (t + value).slice(-MAX_CHARS));
      }
    })().catch((e: Error) => {
      if (!abort.signal.aborted) setError(e.message);
    });
    return () => abort.abort();
  }, [props.namespace, props.pod, container, previous, follow]);
  useEffect(() => {
    const el = pre.current;
    if (el && follow) el.scrollTop = el.scrollHeight;
  }, [text]);
  return (
    <section class="logs">
      <div class="toolbar">
        <select value={container} onChange={(e) => setContainer((e.target as HTMLSelectElement).value)} aria-label="container">
          {props.containers.map((c) => (
            <option value={c}>{c}</option>
          ))}
        </select>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.target as HTMLInputElement).checked)} /> follow
        </label>
        <label>
          <input type="checkbox" checked={previous} onChange={(e) => setPrevious((e.target as HTMLInputElement).checked)} /> previous
          instance
        </label>
      </div>
      {error ? <p class="error">{error}</p> : null}
      <pre ref={pre} data-testid="log-text">
        {text || (error ? '' : 'waiting for output…')}
      </pre>
    </section>
  );
}
