import assert from "node:assert/strict";
import {
  ManualClock,
  MAX_TIMER_MS,
  sleep,
  systemClock,
  wallClock,
} from "./clock.ts";

Deno.test("ManualClock.advance() fires due timers in time order, ties in set order", async () => {
  const clock = new ManualClock(0);
  const fired: string[] = [];
  clock.after(30, () => fired.push("c"));
  clock.after(10, () => fired.push("a"));
  clock.after(10, () => fired.push("b"));
  clock.after(31, () => fired.push("late"));
  await clock.advance(30);
  assert.deepEqual(fired, ["a", "b", "c"]);
  assert.equal(clock.now(), 30);
  assert.equal(clock.pending, 1);
});

Deno.test("ManualClock: a cancelled timer never fires; every() repeats until cancelled", async () => {
  const clock = new ManualClock(0);
  let once = 0;
  let ticks = 0;
  clock.after(5, () => once++)();
  const stop = clock.every(10, () => ticks++);
  await clock.advance(35);
  assert.equal(once, 0);
  assert.equal(ticks, 3);
  stop();
  await clock.advance(100);
  assert.equal(ticks, 3);
  assert.equal(clock.pending, 0);
});

Deno.test("ManualClock: a timer set by a firing timer fires in the same advance when due", async () => {
  const clock = new ManualClock(0);
  const at: number[] = [];
  clock.after(10, () => {
    at.push(clock.now());
    clock.after(10, () => at.push(clock.now()));
  });
  await clock.advance(25);
  assert.deepEqual(at, [10, 20]);
});

Deno.test("ManualClock: async work a timer starts has settled when advance() returns", async () => {
  const clock = new ManualClock(0);
  const steps: string[] = [];
  clock.after(1, async () => {
    await Promise.resolve();
    await sleep(clock, 5);
    steps.push("after sleep");
  });
  await clock.advance(1);
  assert.deepEqual(steps, []);
  await clock.advance(5);
  assert.deepEqual(steps, ["after sleep"]);
});

Deno.test("sleep() ends early when its signal is aborted", async () => {
  const clock = new ManualClock(0);
  const ctl = new AbortController();
  const done = sleep(clock, 60_000, ctl.signal);
  ctl.abort();
  await done;
  assert.equal(clock.pending, 0);
});

Deno.test("systemClock: a wait longer than one timer holds does not fire at once", async () => {
  let fired = false;
  const cancel = systemClock.after(600 * 3_600_000, () => fired = true);
  // setTimeout turns a delay past 2^31-1 ms into ~1 ms: wait well past that.
  await new Promise((r) => setTimeout(r, 30));
  cancel();
  assert.equal(fired, false);
});

Deno.test("wallClock: long waits are chained timers of at most 2^31-1 ms, and cancel at any link", () => {
  const armed = new Map<number, { fn: () => void; ms: number }>();
  let next = 0;
  let now = 0;
  const clock = wallClock({
    set: (fn, ms) => {
      armed.set(++next, { fn, ms });
      return next;
    },
    clear: (id) => armed.delete(id as number),
  }, () => now);
  // The host timer fires when its time has come.
  const fire = () => {
    const [id, t] = [...armed][0]!;
    armed.delete(id);
    now += t.ms;
    t.fn();
  };
  let fired = 0;
  clock.after(2 * MAX_TIMER_MS + 5, () => fired++);
  assert.deepEqual([...armed.values()].map((t) => t.ms), [MAX_TIMER_MS]);
  fire();
  assert.deepEqual([...armed.values()].map((t) => t.ms), [MAX_TIMER_MS]);
  fire();
  assert.deepEqual([...armed.values()].map((t) => t.ms), [5]);
  assert.equal(fired, 0);
  fire();
  assert.equal(fired, 1);
  assert.equal(armed.size, 0);

  const cancel = clock.after(MAX_TIMER_MS + 1, () => fired++);
  fire();
  cancel();
  assert.equal(armed.size, 0, "the second link is cleared");
  assert.equal(fired, 1);

  clock.after(10, () => fired++);
  assert.deepEqual([...armed.values()].map((t) => t.ms), [10]);
});
