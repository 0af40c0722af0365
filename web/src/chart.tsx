// A time chart of CPU or memory, drawn by uPlot.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Sample } from '../../src/agent/dashboard.ts';
import { bytes, millicores } from './format.ts';

export interface ChartSeries {
  label: string;
  samples: Sample[];
}

const COLORS = ['#2563eb', '#db2777', '#059669', '#d97706', '#7c3aed', '#0891b2', '#dc2626'];

export function Chart(props: { title: string; kind: 'cpu' | 'memory'; series: ChartSeries[] }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const index = props.kind === 'cpu' ? 1 : 2;
  const times = [...new Set(props.series.flatMap((s) => s.samples.map((p) => p[0])))].sort((a, b) => a - b);
  const data: uPlot.AlignedData = [
    times.map((t) => t / 1000),
    ...props.series.map((s) => {
      const at = new Map(s.samples.map((p) => [p[0], p[index]]));
      return times.map((t) => at.get(t) ?? null);
    }),
  ];
  const labels = props.series.map((s) => s.label).join('\n');
  useEffect(() => {
    if (!box.current) return;
    const format = props.kind === 'cpu' ? millicores : bytes;
    plot.current?.destroy();
    plot.current = new uPlot(
      {
        width: box.current.clientWidth || 480,
        height: 180,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: {
          x: { time: true },
          y: { range: (_u, _min, max) => [0, Math.max(max ?? 0, props.kind === 'cpu' ? 10 : 1024 * 1024) * 1.1] },
        },
        axes: [{ stroke: '#64748b' }, { stroke: '#64748b', size: 70, values: (_u, vals) => vals.map((v) => format(v)) }],
        series: [
          {},
          ...props.series.map((s, i) => ({
            label: s.label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            value: (_u: uPlot, v: number | null) => format(v),
          })),
        ],
      },
      data,
      box.current,
    );
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
    // A new set of series (another pod, a container more) needs a new plot; new points do not.
  }, [labels, props.kind]);
  useEffect(() => {
    plot.current?.setData(data);
  });
  return (
    <figure class="chart" data-testid={`chart-${props.kind}`} data-points={times.length}>
      <figcaption>{props.title}</figcaption>
      <div ref={box} />
    </figure>
  );
}
