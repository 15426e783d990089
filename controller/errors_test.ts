import assert from "node:assert/strict";
import { isUnavailable } from "./errors.ts";

function named(name: string, cause?: unknown): Error {
  const e = new Error(name, { cause });
  e.name = name;
  return e;
}

Deno.test("errors: a NATS that does not answer is 'unavailable', a bad request is not", () => {
  assert.ok(isUnavailable(named("TimeoutError")));
  assert.ok(isUnavailable(named("RequestError", named("NoResponders"))));
  const noLeader = Object.assign(named("JetStreamApiError"), { status: 503 });
  assert.ok(isUnavailable(noLeader));
  assert.ok(
    !isUnavailable(Object.assign(named("JetStreamApiError"), { status: 400 })),
  );
  assert.ok(!isUnavailable(new TypeError("x is undefined")));
  assert.ok(!isUnavailable("a string"));
});
