import assert from "node:assert/strict";
import {
  isHistory,
  mustLookUpOutcome,
  type OutcomeLookupFacts,
} from "./intake.ts";

const MIN = 60_000;
const START = Date.parse("2030-01-01T00:00:00Z");

function facts(over: Partial<OutcomeLookupFacts>): OutcomeLookupFacts {
  return {
    arrival: "live",
    resend: false,
    issuedAt: START + 1000,
    startedAt: START,
    now: START + 2000,
    catchUpWindowMs: 10 * MIN,
    ...over,
  };
}

Deno.test("intake: a fresh live command in sequence costs no look-up", () => {
  assert.equal(mustLookUpOutcome(facts({})), false);
  // Long after the start, even one issued before it (the window has passed).
  assert.equal(
    mustLookUpOutcome(facts({ issuedAt: START - 1000, now: START + 11 * MIN })),
    false,
  );
});

Deno.test("intake: read back or out of order, a command is always looked up", () => {
  for (const arrival of ["stream", "late"] as const) {
    assert.equal(mustLookUpOutcome(facts({ arrival })), true, arrival);
    assert.equal(
      mustLookUpOutcome(facts({ arrival, now: START + 60 * MIN })),
      true,
      arrival,
    );
  }
});

Deno.test("intake: a re-send is looked up, however long the worker has run", () => {
  assert.equal(mustLookUpOutcome(facts({ resend: true })), true);
  assert.equal(
    mustLookUpOutcome(
      facts({
        resend: true,
        issuedAt: START + 59 * MIN,
        now: START + 60 * MIN,
      }),
    ),
    true,
  );
});

Deno.test("intake: soon after the start, a command issued before it is looked up", () => {
  assert.equal(
    mustLookUpOutcome(facts({ issuedAt: START - 1, now: START + 100 })),
    true,
  );
  assert.equal(
    mustLookUpOutcome(
      facts({ issuedAt: START - 5 * MIN, now: START + 9 * MIN }),
    ),
    true,
  );
  // Issued at or after the start: this process is the only one it reached.
  assert.equal(
    mustLookUpOutcome(facts({ issuedAt: START, now: START + 100 })),
    false,
  );
  // The window is measured from the start: at its end, no more look-ups.
  assert.equal(
    mustLookUpOutcome(facts({ issuedAt: START - 1, now: START + 10 * MIN })),
    false,
  );
});

Deno.test("intake: an unreadable issued_at counts as before the start", () => {
  assert.equal(mustLookUpOutcome(facts({ issuedAt: NaN })), true);
  assert.equal(
    mustLookUpOutcome(facts({ issuedAt: NaN, now: START + 11 * MIN })),
    false,
  );
});

Deno.test("intake: only a command read back from the stream can be history", () => {
  const now = START + 60 * MIN;
  const old = now - 11 * MIN;
  assert.equal(isHistory("stream", old, now, 10 * MIN), true);
  assert.equal(isHistory("stream", now - 9 * MIN, now, 10 * MIN), false);
  assert.equal(isHistory("live", old, now, 10 * MIN), false);
  assert.equal(isHistory("late", old, now, 10 * MIN), false);
  // Unreadable: not known to be old, so run (as before).
  assert.equal(isHistory("stream", NaN, now, 10 * MIN), false);
});
