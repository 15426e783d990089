/**
 * Soak only, loaded with `deno run --preload` into a worker the soak gives
 * a wrong clock: `Date` and `Date.now()` run `offsetMs` off, as on a host
 * whose clock is wrong. Timers and `performance.now()` are left alone: they
 * measure intervals, which a wrong wall clock does not change. The product
 * has no such switch; nothing but this file, passed by the soak, skews it.
 */
export function skewClock(offsetMs: number): void {
  const Real = Date;
  const now = () => Real.now() + offsetMs;
  globalThis.Date = new Proxy(Real, {
    construct(target, args, newTarget) {
      return args.length === 0
        ? Reflect.construct(target, [now()], newTarget)
        : Reflect.construct(target, args, newTarget);
    },
    apply() {
      return new Real(now()).toString();
    },
    get(target, key, receiver) {
      return key === "now" ? now : Reflect.get(target, key, receiver);
    },
  });
}

/**
 * A worker's `deno run` command line with a preload that sets its clock
 * `skewMs` off: this file, copied into `dir` with the offset written in
 * (the worker may read no environment of ours).
 */
export function skewedArgs(
  dir: string,
  w: { id: string; skewMs: number },
  args: string[],
): string[] {
  const file = `${dir}/${w.id}.ts`;
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(
    file,
    Deno.readTextFileSync(new URL(import.meta.url)) +
      `\nskewClock(${w.skewMs});\n`,
  );
  return [args[0]!, `--preload=${file}`, ...args.slice(1)];
}
