import assert from "node:assert/strict";
import { ManualClock, sleep } from "./clock.ts";

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
