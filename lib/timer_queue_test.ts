import assert from "node:assert/strict";
import { TimerQueue, type Timers } from "./timer_queue.ts";

/** Host timers driven by hand: `run(ms)` moves time and fires what is due. */
function fakeHost() {
  let now = 0;
  let next = 0;
  const armed = new Map<number, { fn: () => void; at: number }>();
  const calls = { set: 0, clear: 0 };
  const timers: Timers = {
    set: (fn, ms) => {
      calls.set++;
      armed.set(++next, { fn, at: now + ms });
      return next;
    },
    clear: (id) => {
      calls.clear++;
      armed.delete(id as number);
    },
  };
  const run = (ms: number) => {
    const end = now + ms;
    for (;;) {
      const due = [...armed].filter(([, t]) => t.at <= end)
        .sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      armed.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = end;
  };
  const queue = new TimerQueue(timers, () => now);
  return { queue, run, armed, calls };
}

Deno.test("TimerQueue: fires in deadline order, equal deadlines in the order set", () => {
  const { queue, run } = fakeHost();
  const seen: string[] = [];
  queue.add(30, () => seen.push("c"));
  queue.add(10, () => seen.push("a1"));
  queue.add(20, () => seen.push("b"));
  queue.add(10, () => seen.push("a2"));
  queue.add(0, () => seen.push("now"));
  run(9);
  assert.deepEqual(seen, ["now"]);
  run(25);
  assert.deepEqual(seen, ["now", "a1", "a2", "b", "c"]);
  assert.equal(queue.size, 0);
});

Deno.test("TimerQueue: a cancelled timer never fires; cancelling twice or after firing does nothing", () => {
  const { queue, run } = fakeHost();
  let fired = 0;
  const a = queue.add(10, () => fired++);
  const b = queue.add(10, () => fired += 10);
  a();
  a();
  run(10);
  assert.equal(fired, 10);
  b();
  assert.equal(queue.size, 0);
});

Deno.test("TimerQueue: later deadlines add no host timer; an earlier one re-arms it", () => {
  const { queue, calls, armed } = fakeHost();
  queue.add(100, () => {});
  for (let i = 0; i < 50; i++) queue.add(200 + i, () => {});
  assert.equal(calls.set, 1);
  queue.add(5, () => {});
  assert.equal(calls.set, 2);
  assert.equal(calls.clear, 1);
  assert.deepEqual([...armed.values()].map((t) => t.at), [5]);
});

Deno.test("TimerQueue: the host timer is cleared once nothing is waited for, and armed again for the next", () => {
  const { queue, armed, run } = fakeHost();
  const a = queue.add(1000, () => {});
  const b = queue.add(5000, () => {});
  assert.equal(armed.size, 1);
  a();
  assert.equal(armed.size, 1);
  b();
  assert.equal(armed.size, 0);
  let fired = false;
  queue.add(2000, () => fired = true);
  assert.equal(armed.size, 1);
  run(2000);
  assert.equal(fired, true);
  assert.equal(armed.size, 0);
});

Deno.test("TimerQueue: cancelled entries do not pile up in the heap", () => {
  const { queue, run } = fakeHost();
  let fired = 0;
  queue.add(1_000_000, () => fired++); // keeps one live throughout
  for (let i = 0; i < 20_000; i++) queue.add(500_000 + i, () => fired++)();
  assert.equal(queue.size, 1);
  assert.ok(queue.held < 2 + 1024 + 2, `heap holds ${queue.held}`);
  run(1_000_000);
  assert.equal(fired, 1);
});

Deno.test("TimerQueue: a timer that throws does not stop the others due with it", () => {
  const { queue, run } = fakeHost();
  const seen: string[] = [];
  queue.add(10, () => {
    throw new Error("boom");
  });
  queue.add(10, () => seen.push("same time"));
  queue.add(20, () => seen.push("later"));
  assert.throws(() => run(10), /boom/);
  assert.deepEqual(seen, ["same time"]);
  run(10);
  assert.deepEqual(seen, ["same time", "later"]);
});

Deno.test("TimerQueue: a timer cancelled by one due with it does not run", () => {
  const { queue, run } = fakeHost();
  const seen: string[] = [];
  let cancelB = () => {};
  queue.add(10, () => {
    seen.push("a");
    cancelB();
  });
  cancelB = queue.add(10, () => seen.push("b"));
  queue.add(10, () => seen.push("c"));
  run(10);
  assert.deepEqual(seen, ["a", "c"]);
  assert.equal(queue.size, 0);
});
