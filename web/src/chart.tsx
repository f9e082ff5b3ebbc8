/** Chart.js in React: a canvas, a chart made once, updated when its configuration changes. */
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
    Tooltip,
  type ChartConfiguration,
  type ChartOptions,
} from 'chart.js';
import { useEffect, useRef } from 'react';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Filler, Legend, Tooltip);
Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
Chart.defaults.color = '#475569';

/** A fixed palette, so a model keeps its colour across charts. */
export const PALETTE = ['#2563eb', '#16a34a', '#ea580c', '#9333ea', '#0891b2', '#dc2626', '#ca8a04', '#4f46e5', '#db2777', '#65a30d'];

const BASE: ChartOptions<'bar'> = { responsive: true, maintainAspectRatio: false, animation: false };

/** A bar chart (every chart of the dashboard is one). */
export function ChartView({ config, label, height = 260 }: { config: ChartConfiguration<'bar'>; label: string; height?: number }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart<'bar'> | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    chart.current = new Chart(canvas.current, { ...config, options: { ...BASE, ...config.options } });
    return () => {
      chart.current?.destroy();
      chart.current = null;
    };
    // The chart is made once per type; data changes go through update() below.
  }, [config.type]);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data = config.data;
    c.options = { ...BASE, ...config.options };
    c.update();
  }, [config]);
  return (
    <div className="chart" style={{ height }}>
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}
