// A hand-written SVG chart: cumulative distribution of keystroke echo latency, one line per client,
// latency on a log axis. No chart library.

export type Series = { name: string; color: string; sorted: number[]; dashed?: boolean };

const W = 980;
const H = 520;
const M = { left: 70, right: 310, top: 50, bottom: 60 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function niceTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let decade = Math.floor(Math.log10(min)); decade <= Math.ceil(Math.log10(max)); decade++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** decade;
      if (v >= min * 0.999 && v <= max * 1.001) ticks.push(v);
    }
  }
  return ticks;
}

const label = (v: number) => (v < 1 ? String(Number(v.toPrecision(2))) : String(Math.round(v)));

export type Target = { at: number; label: string };

export function latencyCdfSvg(series: Series[], opts: { title: string; subtitle: string; targets?: Target[] }): string {
  const all = series.flatMap((s) => s.sorted).filter((v) => v > 0 && Number.isFinite(v));
  const lo = 10 ** Math.floor(Math.log10(Math.max(1e-3, Math.min(...all))));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...all, ...(opts.targets ?? []).map((t) => t.at))));
  const x = (v: number) =>
    M.left + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * PW;
  const y = (p: number) => M.top + (1 - p) * PH;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="22" font-size="16" font-weight="600" fill="#111">${esc(opts.title)}</text>`,
    `<text x="${M.left}" y="40" fill="#555">${esc(opts.subtitle)}</text>`,
  );
  // Grid and axes.
  for (const t of niceTicks(lo, hi)) {
    const major = Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9;
    out.push(
      `<line x1="${x(t).toFixed(1)}" y1="${M.top}" x2="${x(t).toFixed(1)}" y2="${M.top + PH}" stroke="${major ? "#ccc" : "#eee"}"/>`,
      `<text x="${x(t).toFixed(1)}" y="${M.top + PH + 18}" text-anchor="middle" fill="#333">${label(t)}</text>`,
    );
  }
  for (const p of [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1]) {
    out.push(
      `<line x1="${M.left}" y1="${y(p).toFixed(1)}" x2="${M.left + PW}" y2="${y(p).toFixed(1)}" stroke="${p === 0.5 ? "#bbb" : "#eee"}"/>`,
      `<text x="${M.left - 8}" y="${(y(p) + 4).toFixed(1)}" text-anchor="end" fill="#333">${Math.round(p * 100)}%</text>`,
    );
  }
  out.push(
    `<line x1="${M.left}" y1="${y(0.99).toFixed(1)}" x2="${M.left + PW}" y2="${y(0.99).toFixed(1)}" stroke="#bbb" stroke-dasharray="2 3"/>`,
    `<text x="${M.left + PW - 4}" y="${(y(0.99) + 12).toFixed(1)}" text-anchor="end" fill="#777">p99</text>`,
    `<rect x="${M.left}" y="${M.top}" width="${PW}" height="${PH}" fill="none" stroke="#888"/>`,
    `<text x="${M.left + PW / 2}" y="${H - 18}" text-anchor="middle" fill="#111">keystroke → echo latency (ms, log scale)</text>`,
    `<text transform="translate(18 ${M.top + PH / 2}) rotate(-90)" text-anchor="middle" fill="#111">share of keystrokes at or below</text>`,
  );
  (opts.targets ?? []).forEach((target, i) => {
    const tx = x(target.at).toFixed(1);
    out.push(
      `<line x1="${tx}" y1="${M.top}" x2="${tx}" y2="${M.top + PH}" stroke="#c00" stroke-dasharray="6 4"/>`,
      // Alternate sides so neighbouring labels and the curves near a line stay readable.
      `<text x="${(x(target.at) + (i % 2 ? 4 : -4)).toFixed(1)}" y="${(y(0.35 - i * 0.1) + 4).toFixed(1)}" text-anchor="${i % 2 ? "start" : "end"}" fill="#c00">${esc(target.label)}</text>`,
    );
  });
  // One step line per series, thinned to at most ~600 points.
  series.forEach((s, index) => {
    const n = s.sorted.length;
    if (n === 0) return;
    const step = Math.max(1, Math.floor(n / 600));
    const points: string[] = [`${x(s.sorted[0]!).toFixed(1)},${y(0).toFixed(1)}`];
    for (let i = 0; i < n; i += step) points.push(`${x(s.sorted[i]!).toFixed(1)},${y((i + 1) / n).toFixed(1)}`);
    points.push(`${x(s.sorted[n - 1]!).toFixed(1)},${y(1).toFixed(1)}`);
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2" ${s.dashed ? 'stroke-dasharray="5 3" ' : ""}points="${points.join(" ")}"/>`,
    );
    const ly = M.top + 10 + index * 40;
    const p50 = s.sorted[Math.ceil(n * 0.5) - 1]!;
    const p99 = s.sorted[Math.ceil(n * 0.99) - 1]!;
    out.push(
      `<line x1="${M.left + PW + 16}" y1="${ly}" x2="${M.left + PW + 40}" y2="${ly}" stroke="${s.color}" stroke-width="3" ${s.dashed ? 'stroke-dasharray="5 3"' : ""}/>`,
      `<text x="${M.left + PW + 46}" y="${ly + 4}" fill="#111">${esc(s.name)}</text>`,
      `<text x="${M.left + PW + 46}" y="${ly + 20}" fill="#555">p50 ${p50.toFixed(3)} · p99 ${p99.toFixed(2)} ms · n=${n}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
