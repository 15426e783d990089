/**
 * What the bench measured, the targets it is judged by (ratios against the
 * raw baselines of the same invocation), and how it is printed: a plain
 * table on stdout and docs/BENCHMARKS.md with an SVG chart.
 */
import { ms, type Stats } from "./lib.ts";
import type { ProfileLine } from "./profile.ts";

export interface Machine {
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  deno: string;
  natsServer: string;
  natsClient: string;
  commit: string;
  dirty: number;
  date: string;
  load: string;
}

type Cpu = { srv: number; ctl: number; wrk: number };

export interface BarrierResult {
  n: number;
  raw: {
    setupMs: number;
    cycle: Stats;
    direct: Stats;
    cpu: Cpu;
    foreignPct: number;
  };
  grid: {
    job: string;
    regMs: number;
    agentsReadyMs: number;
    cycle: Stats;
    react: Stats;
    spread: Stats;
    tail: Stats;
    wallMs: number;
    cpu: Cpu;
    foreignPct: number;
    idlePct: { ctl: number; srv: number };
    ctlRssMax: number;
    /** Peak while the N workers registered, and while the job ran. */
    ctlRssReg: number;
    ctlRssJob: number;
    ctlRssAfter: number;
    natsRssMax: number;
    wrkRss: number[];
    results: number;
    commands: number;
    stopMs?: number;
  };
}

export interface Target {
  what: string;
  target: string;
  measured: string;
  ok: boolean | undefined;
}

export interface BenchResults {
  command: string;
  options: {
    sizes: number[];
    steps: number;
    stepWarmup: number;
    overheadJobs: number;
    jobs: number;
    tputWorkers: number;
    barrierSteps: number;
    barrierWarmup: number;
    history: number;
    simProcs: number;
    /** How raw workers take their acks: "request" (js.publish) or "inbox". */
    rawAck: string;
    smoke: boolean;
    profile: boolean;
    controller: Record<string, string | number>;
  };
  machine: Machine;
  rawStep?: { cycle: Stats; direct: Stats; foreignPct: number };
  gridStep?: {
    job: string;
    cycle: Stats;
    react: Stats;
    worker: Stats;
    wallMs: number;
    perStepWallMs: number;
    cpuPerStep: { ctl: number; srv: number; wrk: number };
    foreignPct: number;
  };
  overhead?: { total: Stats; post: Stats };
  throughput?: {
    jobs: number;
    workers: number;
    seconds: number;
    jobsPerSec: number;
    submitPerSec: number;
    retries429: number;
    failed: number;
    cpuMsPerJob: Cpu;
    ctlRssMax: number;
  };
  barrier: BarrierResult[];
  history?: {
    stored: number;
    seeded: number;
    seedSec: number;
    seedJobsPerSec: number;
    list: Stats & { bytes: number };
    one: Stats & { bytes: number };
    bigJob?: { n: number; results: number; ms: number; bytes: number };
    ctlRss: number;
  };
  final?: {
    ctlRss: number;
    ctlHwm: number;
    natsRss: number;
    natsHwm: number;
    ctlCpuMs: number;
  };
  profiles: {
    name: string;
    file: string;
    totalMs: number;
    idleMs: number;
    byFunction: ProfileLine[];
    byModule: ProfileLine[];
    /** V8 heap (used / total) and RSS, MiB, before and after a forced GC. */
    heap: {
      before: { used: number; total: number; rss: number };
      afterGc: { used: number; total: number; rss: number };
    };
  }[];
  targets?: Target[];
  elapsedSec?: number;
}

const x = (a: number, b: number) => a / b;
const fx = (v: number) => Number.isFinite(v) ? `${v.toFixed(2)}×` : "–";
const mib = (v: number) => Number.isFinite(v) ? v.toFixed(0) : "–";

export function checkTargets(R: BenchResults): Target[] {
  const out: Target[] = [];
  if (R.rawStep && R.gridStep) {
    const p50 = x(R.gridStep.cycle.p50, R.rawStep.cycle.p50);
    const p99 = x(R.gridStep.cycle.p99, R.rawStep.cycle.p99);
    out.push({
      what: "single-node step p50 vs raw step (a)",
      target: "≤ 2×",
      measured: `${ms(R.gridStep.cycle.p50)} / ${
        ms(R.rawStep.cycle.p50)
      } ms = ${fx(p50)}`,
      ok: p50 <= 2,
    });
    out.push({
      what: "single-node step p99 vs raw step (a)",
      target: "≤ 3×",
      measured: `${ms(R.gridStep.cycle.p99)} / ${
        ms(R.rawStep.cycle.p99)
      } ms = ${fx(p99)}`,
      ok: p99 <= 3,
    });
  }
  for (const [n, limit] of [[1000, 1.5], [5000, 2]] as const) {
    const b = R.barrier.find((b) => b.n === n);
    if (!b) continue;
    const r = x(b.grid.cycle.p50, b.raw.cycle.p50);
    out.push({
      what: `${n}-worker barrier step p50 vs raw fan-out (b)`,
      target: `≤ ${limit}×`,
      measured: `${ms(b.grid.cycle.p50)} / ${ms(b.raw.cycle.p50)} ms = ${
        fx(r)
      }`,
      ok: r <= limit,
    });
  }
  if (R.throughput) {
    out.push({
      what: `throughput, ${R.throughput.jobs} single-step jobs via the API`,
      target: "≥ 300 jobs/s",
      measured: `${R.throughput.jobsPerSec.toFixed(0)} jobs/s`,
      ok: R.throughput.jobsPerSec >= 300 && R.throughput.failed === 0,
    });
  }
  const b5 = R.barrier.find((b) => b.n === 5000);
  if (b5) {
    out.push({
      what:
        "controller RSS at 5,000 workers (peak while registering + barrier job)",
      target: "≤ 200 MiB",
      measured: `${mib(b5.grid.ctlRssMax)} MiB`,
      ok: b5.grid.ctlRssMax <= 200,
    });
  }
  if (R.history) {
    const h = R.history;
    out.push({
      what: `GET /jobs first page, ${h.stored} finished jobs stored (p99)`,
      target: "≤ 50 ms",
      measured: `p50 ${ms(h.list.p50)} ms, p99 ${ms(h.list.p99)} ms`,
      ok: h.list.p99 <= 50,
    });
    out.push({
      what: `GET /job/:id, ${h.stored} finished jobs stored (p99)`,
      target: "≤ 20 ms",
      measured: `p50 ${ms(h.one.p50)} ms, p99 ${ms(h.one.p99)} ms`,
      ok: h.one.p99 <= 20,
    });
  }
  return out;
}

const verdict = (ok: boolean | undefined) =>
  ok === undefined ? "–" : ok ? "holds" : "MISSED";

/** Markdown table rows (also readable as plain text). */
function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join(
    "\n",
  );
}

function barrierRows(R: BenchResults): (string | number)[][] {
  return R.barrier.map((b) => [
    b.n,
    `${ms(b.raw.cycle.p50)} / ${ms(b.raw.cycle.p99)}`,
    `${ms(b.grid.cycle.p50)} / ${ms(b.grid.cycle.p99)}`,
    fx(x(b.grid.cycle.p50, b.raw.cycle.p50)),
    `${(b.raw.setupMs / 1000).toFixed(2)} s`,
    `${(b.grid.regMs / 1000).toFixed(2)} s`,
    `${b.raw.cpu.srv.toFixed(0)}/${b.raw.cpu.ctl.toFixed(0)}/${
      b.raw.cpu.wrk.toFixed(0)
    }`,
    `${b.grid.cpu.srv.toFixed(0)}/${b.grid.cpu.ctl.toFixed(0)}/${
      b.grid.cpu.wrk.toFixed(0)
    }`,
    mib(b.grid.ctlRssMax),
    mib(b.grid.natsRssMax),
    `${b.raw.foreignPct.toFixed(0)} / ${b.grid.foreignPct.toFixed(0)}`,
  ]);
}

const BARRIER_HEAD = [
  "N",
  "raw (b) p50 / p99 ms",
  "GRID p50 / p99 ms",
  "GRID / raw p50",
  "connected",
  "registered",
  "raw CPU ms/step srv/ctl/wrk",
  "GRID CPU ms/step srv/ctl/wrk",
  "ctl RSS MiB (peak)",
  "nats RSS MiB (peak)",
  "other load % raw / GRID",
];

export function renderTable(R: BenchResults): string {
  const out: string[] = [""];
  if (R.targets?.length) {
    out.push(
      table(
        ["target", "limit", "measured", "verdict"],
        R.targets.map((t) => [t.what, t.target, t.measured, verdict(t.ok)]),
      ),
    );
    out.push("");
  }
  if (R.rawStep && R.gridStep) {
    out.push(table(["single-node step (ms)", "p50", "p99", "min", "max"], [
      [
        "raw step (a)",
        ms(R.rawStep.cycle.p50),
        ms(R.rawStep.cycle.p99),
        ms(R.rawStep.cycle.min),
        ms(R.rawStep.cycle.max),
      ],
      [
        "GRID step in one job",
        ms(R.gridStep.cycle.p50),
        ms(R.gridStep.cycle.p99),
        ms(R.gridStep.cycle.min),
        ms(R.gridStep.cycle.max),
      ],
      ...(R.overhead
        ? [[
          "GRID single-step job (POST → completed)",
          ms(R.overhead.total.p50),
          ms(R.overhead.total.p99),
          ms(R.overhead.total.min),
          ms(R.overhead.total.max),
        ]]
        : []),
    ]));
    out.push("");
  }
  if (R.barrier.length) {
    out.push(table(BARRIER_HEAD, barrierRows(R)));
    out.push("");
  }
  if (R.throughput) {
    const t = R.throughput;
    out.push(
      `throughput: ${t.jobs} jobs to ${t.workers} workers in ${
        t.seconds.toFixed(2)
      } s = ${t.jobsPerSec.toFixed(0)} jobs/s (submit ${
        t.submitPerSec.toFixed(0)
      }/s, ${t.failed} failed)`,
    );
  }
  if (R.history) {
    const h = R.history;
    out.push(
      `history (${h.stored} finished jobs): GET /jobs p50 ${
        ms(h.list.p50)
      } p99 ${ms(h.list.p99)} ms; GET /job/:id p50 ${ms(h.one.p50)} p99 ${
        ms(h.one.p99)
      } ms`,
    );
  }
  if (R.final) {
    out.push(
      `final RSS: controller ${mib(R.final.ctlRss)} MiB (peak ${
        mib(R.final.ctlHwm)
      }), nats-server ${mib(R.final.natsRss)} MiB (peak ${
        mib(R.final.natsHwm)
      })`,
    );
  }
  return out.join("\n");
}

// ---- the chart ----

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

// ---- the document ----

export function renderMarkdown(R: BenchResults): string {
  const m = R.machine;
  const o = R.options;
  const s: string[] = [];
  s.push(`# GRID benchmarks`);
  s.push("");
  s.push(
    `Generated by \`${R.command}\` (bench/main.ts) on ${
      m.date.slice(0, 16).replace("T", " ")
    } UTC` +
      (R.elapsedSec ? `, ${(R.elapsedSec / 60).toFixed(1)} minutes.` : "."),
  );
  s.push(
    "Every GRID figure is compared with a raw baseline the bench runs in the same invocation, on the same nats-server " +
      "(the controller's own): absolute numbers move a lot between runs on this shared 2-core VM " +
      '(see ../shared/reference/PERF-BASELINE.md, "Noise caveat"); ratios within one run are what to read.',
  );
  s.push("");
  s.push(`## Targets`);
  s.push("");
  s.push(
    table(
      ["what", "target", "measured", "verdict"],
      (R.targets ?? []).map((
        t,
      ) => [t.what, t.target, t.measured, verdict(t.ok)]),
    ),
  );
  s.push("");
  s.push(`## Machine`);
  s.push("");
  s.push(table(["", ""], [
    ["CPU", `${m.cpu}, ${m.cores} vCPUs`],
    ["memory", `${m.memGiB.toFixed(0)} GiB`],
    ["kernel", m.kernel],
    ["Deno", m.deno],
    ["nats-server", m.natsServer.replace(/^nats-server: /, "")],
    ["NATS client", `${m.natsClient} (+ jetstream, kv)`],
    ["GRID", `${m.commit}${m.dirty ? ` + ${m.dirty} uncommitted files` : ""}`],
    ["load average at start", m.load],
  ]));
  s.push("");
  s.push(`## How it runs`);
  s.push("");
  s.push("```");
  s.push(`${R.command}`);
  s.push("deno task bench --sizes=100,1000 --history=2000   # a shorter run");
  s.push(
    "deno task bench:smoke                              # what CI should run: 50 workers, 50 jobs, 20 steps, history 200",
  );
  s.push(
    "deno task bench --profile=/tmp/prof                # + controller CPU profiles (slower: do not quote its timings)",
  );
  s.push("```");
  s.push("");
  const half = (n: number) => Math.ceil(n / 2);
  s.push(
    [
      `- **One real controller**, \`deno run -P=controller controller/main.ts\` with its own nats-server (${
        m.natsServer.replace(/^nats-server: /, "")
      }), config \`max_concurrent: ${o.controller.maxConcurrent}\`,`,
      `  \`max_pending: ${o.controller.maxPending}\`, \`offline_after: ${o.controller.offlineAfter}\`, log level info; one **real worker process**`,
      `  (\`-P=worker worker/main.ts\`, heartbeat 5 s) for the single-node figures.`,
      `- **Simulated workers** (bench/sim_workers.ts): ${o.simProcs} Deno processes per size; each simulated worker is one NATS`,
      `  connection made like gridw's (lib/nats.ts) carrying both the raw baseline worker and the real worker code (\`Agent\` from`,
      `  worker/agent.ts, \`ping\` backend, heartbeat every ${
        Number(o.controller.heartbeat) / 1000
      } s, log level warn). GRID and the baseline run on the same connections`,
      `  in the same processes, one after the other.`,
      `- **The raw baselines** (bench/raw.ts) have GRID's transport shape and nothing else: a file stream \`BENCH_CMD\` republished`,
      `  to core subjects, workers answering with an acknowledged JetStream publish (${
        o.rawAck === "inbox"
          ? "acks on one inbox subscription, \`--raw-ack=inbox\`"
          : "\`js.publish\`"
      }) into the file stream`,
      `  \`BENCH_RES\`, read by one ordered consumer; payloads shaped like GRID's. (a) one command → one worker → one result,`,
      `  sequentially; (b) one broadcast → N workers → wait for all N results, then the next.`,
      `- **Every step is timed the same way** for GRID and the baselines, from the server's store timestamps in the results`,
      `  stream: step k = (last result of step k stored) − (last result of step k−1 stored). For GRID the bench reads the job's`,
      `  results and commands back from GRID_RES and GRID_CMD after the job, so nothing observes the run while it is timed.`,
      `- **Raw, GRID, raw again**: each raw baseline runs half its steps before the GRID run and half after, so a drift in the`,
      `  machine's load hits both. "other load" is CPU used meanwhile by processes the bench did not start (other people's`,
      `  tests on this shared box), in % of all cores: figures taken under heavy other load are noisy.`,
      `- Single-node step: raw ${o.stepWarmup} warm-up + ${
        half(o.steps)
      }, GRID one job of ${o.stepWarmup} + ${o.steps} top-level`,
      `  \`ping echo\` steps on the real worker, raw 1 + ${
        o.steps - half(o.steps)
      }. Job overhead: ${o.overheadJobs} single-step jobs one after another.`,
      `- Barrier: raw ${o.barrierWarmup} warm-up + ${
        half(o.barrierSteps)
      } broadcasts, GRID one job of ${o.barrierWarmup} + ${o.barrierSteps} top-level`,
      `  \`ping echo\` steps on all N (a group), raw 1 + ${
        o.barrierSteps - half(o.barrierSteps)
      }. "connected" is the time from spawning the sim processes until`,
      `  all N connections are up with the raw worker subscribed (the floor); "registered" until \`GET /status\` counts all N online.`,
      `  CPU is user+system time per step, warm-up included, of nats-server (srv), the controller or the raw publisher`,
      `  (ctl, the bench process) and all sim processes (wrk). RSS (VmRSS) is sampled every 250 ms; peak shown.`,
      `- Throughput: ${o.jobs} single-step \`ping echo\` jobs, each for one of ${o.tputWorkers} simulated workers (round robin), POSTed by 32`,
      `  concurrent clients; jobs/s = jobs ÷ (first POST → last job record written \`completed\`, seen on the KV bucket).`,
      `- History: finished single-step jobs are seeded through the API until ${
        o.history.toLocaleString("en")
      } are stored, then ${R.history ? R.history.list.n : "–"} timed`,
      `  sequential requests of each kind (after 20 warm-up) from the bench process over HTTP keep-alive.`,
      `- Targets use p50 for step and barrier times, p99 for the HTTP reads, and the peak sampled RSS.`,
    ].join("\n"),
  );
  s.push("");
  if (R.rawStep && R.gridStep) {
    s.push(`## Single-node step`);
    s.push("");
    const st = (
      name: string,
      v: Stats,
    ) => [name, ms(v.p50), ms(v.p99), ms(v.min), ms(v.max), ms(v.mean)];
    const rows = [
      st("raw step (a)", R.rawStep.cycle),
      st("GRID: one step of a multi-step job", R.gridStep.cycle),
      st(
        "· of which controller (last result stored → next command stored)",
        R.gridStep.react,
      ),
      st(
        "· of which worker (command stored → result stored)",
        R.gridStep.worker,
      ),
    ];
    if (R.overhead) {
      rows.push(
        st(
          "GRID: a whole single-step job, POST → record `completed` (bench clock)",
          R.overhead.total,
        ),
      );
      rows.push(st("· of which POST /job answered", R.overhead.post));
    }
    s.push(table(["ms", "p50", "p99", "min", "max", "mean"], rows));
    s.push("");
    s.push(
      `Ratios: step p50 ${
        fx(x(R.gridStep.cycle.p50, R.rawStep.cycle.p50))
      }, p99 ${
        fx(x(R.gridStep.cycle.p99, R.rawStep.cycle.p99))
      } of the raw step` +
        (R.overhead
          ? `; a whole single-step job p50 ${
            fx(x(R.overhead.total.p50, R.rawStep.cycle.p50))
          } of a raw step (no target: job overhead, labelled separately).`
          : "."),
    );
    const c = R.gridStep.cpuPerStep;
    s.push(
      `CPU per GRID step: controller ${c.ctl.toFixed(2)} ms, nats-server ${
        c.srv.toFixed(2)
      } ms, worker ${c.wrk.toFixed(2)} ms. ` +
        `Other people's processes used ${
          R.rawStep.foreignPct.toFixed(0)
        }% of the machine during the raw steps and ` +
        `${R.gridStep.foreignPct.toFixed(0)}% during the GRID job.`,
    );
    s.push(
      `The raw step timed at the publisher (publish → result in): p50 ${
        ms(R.rawStep.direct.p50)
      } ms, p99 ${ms(R.rawStep.direct.p99)} ms.`,
    );
    s.push("");
  }
  if (R.barrier.length) {
    s.push(`## Barrier fan-out`);
    s.push("");
    s.push(table(BARRIER_HEAD, barrierRows(R)));
    s.push("");
    s.push(barrierSvg(R));
    s.push("");
    s.push(`Where GRID's barrier step goes (p50, ms; store timestamps):`);
    s.push("");
    s.push(table(
      [
        "N",
        "step",
        "controller reaction (last result k−1 → first command k)",
        "dispatch spread (first → last command k)",
        "tail (last command → last result k)",
        "controller idle CPU %",
        "nats idle CPU %",
        "ctl RSS MiB: peak registering / peak in job / after",
        "sim procs RSS MiB",
        "sim stop",
      ],
      R.barrier.map((b) => [
        b.n,
        ms(b.grid.cycle.p50),
        ms(b.grid.react.p50),
        ms(b.grid.spread.p50),
        ms(b.grid.tail.p50),
        b.grid.idlePct.ctl.toFixed(1),
        b.grid.idlePct.srv.toFixed(1),
        `${mib(b.grid.ctlRssReg)} / ${mib(b.grid.ctlRssJob)} / ${
          mib(b.grid.ctlRssAfter)
        }`,
        b.grid.wrkRss.map(mib).join(" + "),
        b.grid.stopMs !== undefined
          ? `${(b.grid.stopMs / 1000).toFixed(1)} s`
          : "–",
      ]),
    ));
    s.push("");
    s.push(
      `Raw fan-out timed at the publisher: ` +
        R.barrier.map((b) => `N=${b.n} p50 ${ms(b.raw.direct.p50)} ms`).join(
          ", ",
        ) + ".",
    );
    s.push("");
  }
  if (R.throughput) {
    const t = R.throughput;
    s.push(`## Throughput`);
    s.push("");
    s.push(
      table([
        "jobs",
        "workers",
        "seconds",
        "jobs/s",
        "POST /job accepted/s",
        "429 retries",
        "failed",
        "CPU ms/job ctl/srv/wrk",
        "ctl RSS MiB (peak)",
      ], [[
        t.jobs,
        t.workers,
        t.seconds.toFixed(2),
        t.jobsPerSec.toFixed(0),
        t.submitPerSec.toFixed(0),
        t.retries429,
        t.failed,
        `${t.cpuMsPerJob.ctl.toFixed(2)}/${t.cpuMsPerJob.srv.toFixed(2)}/${
          t.cpuMsPerJob.wrk.toFixed(2)
        }`,
        mib(t.ctlRssMax),
      ]]),
    );
    s.push("");
  }
  if (R.history) {
    const h = R.history;
    s.push(`## History`);
    s.push("");
    s.push(
      `${h.stored.toLocaleString("en")} finished jobs stored (${
        h.seeded.toLocaleString("en")
      } seeded in ${h.seedSec.toFixed(1)} s, ${
        h.seedJobsPerSec.toFixed(0)
      } jobs/s with 64 concurrent clients and 4 workers). Controller RSS afterwards: ${
        mib(h.ctlRss)
      } MiB.`,
    );
    s.push("");
    s.push(
      table(["request", "p50 ms", "p99 ms", "min", "max", "answer bytes"], [
        [
          "GET /jobs (first page, 50)",
          ms(h.list.p50),
          ms(h.list.p99),
          ms(h.list.min),
          ms(h.list.max),
          h.list.bytes,
        ],
        [
          "GET /job/:id (a random single-step job)",
          ms(h.one.p50),
          ms(h.one.p99),
          ms(h.one.min),
          ms(h.one.max),
          h.one.bytes,
        ],
        ...(h.bigJob
          ? [[
            `GET /job/:id of the ${h.bigJob.n}-node barrier job (${
              h.bigJob.results.toLocaleString("en")
            } results; one request)`,
            ms(h.bigJob.ms),
            "",
            "",
            "",
            h.bigJob.bytes,
          ]]
          : []),
      ]),
    );
    s.push("");
  }
  if (R.final) {
    s.push(
      `At the end: controller RSS ${mib(R.final.ctlRss)} MiB (peak ${
        mib(R.final.ctlHwm)
      }), nats-server RSS ${mib(R.final.natsRss)} MiB (peak ${
        mib(R.final.natsHwm)
      }).`,
    );
    s.push("");
  }
  for (const p of R.profiles) {
    s.push(`## Controller CPU profile: ${p.name}`);
    s.push("");
    const h = p.heap;
    s.push(
      `V8 heap at the end: ${mib(h.before.used)} MiB used of ${
        mib(h.before.total)
      } MiB (RSS ${mib(h.before.rss)}); ` +
        `after a forced GC ${mib(h.afterGc.used)} of ${
          mib(h.afterGc.total)
        } MiB (RSS ${mib(h.afterGc.rss)}).`,
    );
    s.push("");
    s.push(
      `${(p.totalMs / 1000).toFixed(1)} s profiled, ${
        ((p.totalMs - p.idleMs) / 1000).toFixed(1)
      } s busy. Self time, top functions:`,
    );
    s.push("");
    s.push(
      table(
        ["function", "ms", "% of busy"],
        p.byFunction.map((l) => [l.what, l.ms.toFixed(0), l.pct.toFixed(1)]),
      ),
    );
    s.push("");
  }
  s.push(`## Reading these numbers`);
  s.push("");
  s.push(
    [
      `- On this box everything shares 2 vCPUs: nats-server, the controller, the simulated fleet and the bench. Barrier times are`,
      `  CPU-bound, and most CPU is the simulated workers, which a real fleet spreads over its own machines. The "ctl" and "srv"`,
      `  CPU columns are what a controller host pays.`,
      `- The raw baseline sends one broadcast per step; GRID sends one command per node (by id, so a node that joined late or`,
      `  dropped out gets nothing) and parses, validates and folds every result. The ratio is the price of that.`,
      `- A benchmark is not a test: CI should run \`deno task bench:smoke\` to keep it working, and assert no timing.`,
      `- What was changed in the engine to meet the targets, with before/after ratios: docs/PERF-CHANGES.md.`,
    ].join("\n"),
  );
  s.push("");
  return s.join("\n");
}
