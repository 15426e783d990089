/** The SVG chart of barrier step time against worker count in docs/BENCHMARKS.md. */
import { ms } from "./lib.ts";
import type { BarrierResult, BenchResults } from "./results.ts";

export function barrierSvg(R: BenchResults): string {
  const W = 640, H = 360, L = 64, Rm = 150, T = 30, B = 50;
  const pts = R.barrier.filter((b) => Number.isFinite(b.grid.cycle.p50));
  if (pts.length === 0) return "";
  const ns = pts.map((b) => b.n);
  const ys = pts.flatMap((b) => [b.grid.cycle.p99, b.raw.cycle.p99]).filter(
    Number.isFinite,
  );
  const minN = Math.min(...ns), maxN = Math.max(...ns);
  const lx0 = Math.log10(minN) - 0.15, lx1 = Math.log10(maxN) + 0.15;
  const yMax = niceCeil(Math.max(...ys, 1));
  const px = (n: number) =>
    L + ((Math.log10(n) - lx0) / (lx1 - lx0)) * (W - L - Rm);
  const py = (v: number) => T + (1 - v / yMax) * (H - T - B);
  const el: string[] = [];
  el.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="white"/>`);
  // y grid and labels
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    el.push(
      `<line x1="${L}" y1="${py(v)}" x2="${W - Rm}" y2="${
        py(v)
      }" stroke="#ddd"/>`,
    );
    el.push(
      `<text x="${L - 6}" y="${py(v) + 4}" text-anchor="end">${
        fmtTick(v)
      }</text>`,
    );
  }
  // x ticks: the measured sizes
  for (const n of ns) {
    el.push(
      `<line x1="${px(n)}" y1="${T}" x2="${px(n)}" y2="${
        H - B
      }" stroke="#eee"/>`,
    );
    el.push(
      `<text x="${px(n)}" y="${H - B + 16}" text-anchor="middle">${
        n.toLocaleString("en")
      }</text>`,
    );
  }
  el.push(
    `<line x1="${L}" y1="${H - B}" x2="${W - Rm}" y2="${
      H - B
    }" stroke="#333"/>`,
  );
  el.push(`<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#333"/>`);
  el.push(
    `<text x="${(L + W - Rm) / 2}" y="${
      H - 12
    }" text-anchor="middle">simulated workers (log scale)</text>`,
  );
  el.push(
    `<text transform="translate(16 ${
      (T + H - B) / 2
    }) rotate(-90)" text-anchor="middle">barrier step, ms</text>`,
  );
  const series = [
    {
      name: "GRID p50",
      color: "#d62728",
      get: (b: BarrierResult) => b.grid.cycle,
      dash: "",
    },
    {
      name: "raw fan-out p50",
      color: "#1f77b4",
      get: (b: BarrierResult) => b.raw.cycle,
      dash: "6 4",
    },
  ];
  series.forEach((s, i) => {
    const p = pts.map((b) =>
      `${px(b.n).toFixed(1)},${py(s.get(b).p50).toFixed(1)}`
    ).join(" ");
    el.push(
      `<polyline points="${p}" fill="none" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`,
    );
    for (const b of pts) {
      const st = s.get(b);
      // p50 dot, whisker to p99
      el.push(
        `<line x1="${px(b.n)}" y1="${py(st.p50)}" x2="${px(b.n)}" y2="${
          py(st.p99)
        }" stroke="${s.color}" stroke-opacity="0.5"/>`,
      );
      el.push(
        `<circle cx="${px(b.n)}" cy="${
          py(st.p50)
        }" r="3.5" fill="${s.color}"/>`,
      );
      el.push(
        `<text x="${px(b.n) + 6}" y="${
          py(st.p50) + (i === 0 ? -6 : 14)
        }" fill="${s.color}">${ms(st.p50)}</text>`,
      );
    }
    const ly = T + 10 + i * 20;
    el.push(
      `<line x1="${W - Rm + 14}" y1="${ly}" x2="${
        W - Rm + 40
      }" y2="${ly}" stroke="${s.color}" stroke-width="2" stroke-dasharray="${s.dash}"/>`,
    );
    el.push(`<text x="${W - Rm + 46}" y="${ly + 4}">${s.name}</text>`);
  });
  el.push(
    `<text x="${W - Rm + 14}" y="${T + 62}" fill="#666">whiskers: p99</text>`,
  );
  el.push(
    `<text x="${L}" y="${
      T - 10
    }" font-weight="bold">Barrier step time vs worker count</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">\n${
    el.join("\n")
  }\n</svg>`;
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmtTick(v: number): string {
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}
