/**
 * The Prometheus text exposition format (0.0.4), as the controller's
 * `GET /metrics` and the worker's `worker.metrics` endpoint write it: one
 * writer, so both speak the same dialect.
 */

/** The content type a scrape answer carries. */
export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Seconds: from a quick step to a long rollout. */
export const DURATION_BUCKETS = [
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
  30,
  60,
  300,
  900,
  3600,
];

export type Labels = Record<string, string>;

/** A label value made safe to quote: no backslash, quote or newline survives. */
export function labelValue(v: string): string {
  return v.replace(/[\\"\n]/g, "_");
}

/** `{a="x",b="y"}`, or "" without labels. */
export function labelSet(labels: Labels = {}): string {
  const parts = Object.entries(labels).map(([k, v]) =>
    `${k}="${labelValue(v)}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly buckets: readonly number[] = DURATION_BUCKETS) {
    this.counts = buckets.map(() => 0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    const i = this.buckets.findIndex((b) => v <= b);
    if (i >= 0) this.counts[i]!++;
  }

  /** The series lines; bucket counts are cumulative, as Prometheus wants. */
  lines(name: string): string[] {
    const out: string[] = [];
    let acc = 0;
    this.buckets.forEach((b, i) => {
      acc += this.counts[i]!;
      out.push(`${name}_bucket{le="${b}"} ${acc}`);
    });
    out.push(`${name}_bucket{le="+Inf"} ${this.count}`);
    out.push(`${name}_sum ${round(this.sum)}`);
    out.push(`${name}_count ${this.count}`);
    return out;
  }
}

/**
 * A counter split by labels; a series appears once it has been counted.
 * Label names are fixed by the caller, so their order is too.
 */
export class LabeledCounter {
  #series = new Map<string, number>();

  inc(labels: Labels, by = 1): void {
    const key = labelSet(labels);
    this.#series.set(key, (this.#series.get(key) ?? 0) + by);
  }

  get(labels: Labels): number {
    return this.#series.get(labelSet(labels)) ?? 0;
  }

  lines(name: string): string[] {
    return [...this.#series].map(([key, n]) => `${name}${key} ${n}`);
  }
}

/** Metric families gathered into one scrape answer. */
export class Exposition {
  #out: string[] = [];

  family(
    name: string,
    type: "counter" | "gauge" | "histogram",
    help: string,
    lines: string[],
  ): this {
    this.#out.push(
      `# HELP ${name} ${help}`,
      `# TYPE ${name} ${type}`,
      ...lines,
    );
    return this;
  }

  /** A family of one unlabelled series. */
  single(
    name: string,
    type: "counter" | "gauge",
    help: string,
    value: number,
  ): this {
    return this.family(name, type, help, [`${name} ${value}`]);
  }

  text(): string {
    return this.#out.join("\n") + "\n";
  }
}
