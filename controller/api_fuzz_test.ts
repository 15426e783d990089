/**
 * Fuzzing the job spec parser and `POST /job` with fast-check: whatever
 * comes in (any JSON, any bytes, job-shaped nonsense), the answer is a
 * 2xx or a 4xx, never a 5xx or a throw.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { JobSpec } from "../models/job.ts";
import { fileJob } from "../client/jobspec.ts";
import { UsageError } from "../client/usage.ts";
import { parseBodyText } from "./api_body.ts";
import { RefusedError } from "./errors.ts";
import { apiRig } from "./api_testing.ts";

const RUNS = 300;
const TYPES = ["application/json", "application/yaml", "text/yaml"];

/** Values that look like parts of a job, to get past the first checks. */
const word = fc.oneof(
  fc.constantFrom(
    "test",
    "succeed",
    "fail",
    "sleep",
    "ping",
    "echo",
    "web",
    "all",
    "group",
    "node",
    "continue",
    "fail-fast",
    "always",
    "on_failure",
    "1s",
    "10m",
    "web-01",
  ),
  fc.string({ maxLength: 12 }),
);
const anything = fc.oneof(word, fc.integer(), fc.boolean(), fc.constant(null));
const leaf = fc.record({
  backend: fc.oneof(word, anything),
  action: fc.oneof(word, anything),
  params: fc.oneof(fc.dictionary(word, fc.oneof(word, anything)), anything),
  timeout: fc.oneof(word, anything),
  max_retries: fc.oneof(fc.integer({ min: -5, max: 200 }), anything),
  condition: fc.oneof(word, anything),
}, { requiredKeys: [] });
const phase = fc.oneof(
  leaf,
  fc.record({ tasks: fc.oneof(fc.array(leaf, { maxLength: 3 }), anything) }, {
    requiredKeys: [],
  }),
  anything,
);
const jobLike = fc.record({
  target: fc.oneof(
    fc.record({
      scope: fc.oneof(word, anything),
      value: fc.oneof(word, anything),
    }, {
      requiredKeys: [],
    }),
    anything,
  ),
  strategy: fc.oneof(word, anything),
  timeout: fc.oneof(word, anything),
  tasks: fc.oneof(fc.array(phase, { maxLength: 4 }), anything),
  extra: anything,
}, { requiredKeys: [] });
/** Jobs the rig's fleet can run, with a little noise: they get 202 or 429. */
const runnable = fc.record({
  target: fc.constantFrom(
    { scope: "all" },
    { scope: "group", value: "web" },
    { scope: "node", value: "web-01" },
  ),
  strategy: fc.constantFrom("fail-fast", "continue"),
  tasks: fc.array(
    fc.record({
      backend: fc.constant("test"),
      action: fc.constantFrom("succeed", "fail", "sleep"),
      params: fc.dictionary(
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.string(),
      ),
      max_retries: fc.integer({ min: 0, max: 3 }),
    }, { requiredKeys: ["backend", "action"] }),
    { minLength: 1, maxLength: 4 },
  ),
}, { requiredKeys: ["tasks"] });
const anyInput = fc.oneof(fc.jsonValue(), jobLike, runnable, fc.anything());

Deno.test("fuzz: JobSpec.safeParse never throws, whatever the value", () => {
  fc.assert(
    fc.property(anyInput, (v) => {
      const r = JobSpec.safeParse(v);
      assert.equal(typeof r.success, "boolean");
    }),
    { numRuns: 2000 },
  );
});

Deno.test("fuzz: the body parser refuses with 'invalid' or parses, on any bytes", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.json()),
      fc.constantFrom(...TYPES),
      (text, type) => {
        try {
          parseBodyText(text, type);
        } catch (e) {
          assert.ok(e instanceof RefusedError, String(e));
          assert.equal(e.kind, "invalid");
        }
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("fuzz: gridc's job file parser fails only with a usage error", () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.string(), fc.json(), jobLike.map((j) => JSON.stringify(j))),
      (text) => {
        try {
          fileJob("job.yaml", text, {});
        } catch (e) {
          assert.ok(e instanceof UsageError, String(e));
        }
      },
    ),
    { numRuns: 1000 },
  );
});

Deno.test("fuzz: POST /job answers 2xx or 4xx to any JSON, YAML or bytes", async () => {
  const r = await apiRig();
  try {
    const post = async (
      body: Uint8Array<ArrayBuffer> | string,
      type: string,
    ) => {
      const res = await r.app.request("http://127.0.0.1:8765/job", {
        method: "POST",
        headers: {
          authorization: `Bearer ${r.token.operate}`,
          "content-type": type,
        },
        body,
      });
      const text = await res.text();
      assert.ok(
        res.status >= 200 && res.status < 500 && res.status !== 401 &&
          res.status !== 403,
        `${res.status} ${text}`,
      );
      assert.ok(JSON.parse(text) !== undefined);
      return res.status;
    };
    const statuses = new Map<number, number>();
    const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.jsonValue(), jobLike, runnable),
        fc.constantFrom(...TYPES),
        async (value, type) => {
          count(await post(JSON.stringify(value) ?? "null", type));
        },
      ),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 512 }),
        fc.constantFrom(...TYPES),
        async (bytes, type) => {
          count(await post(new Uint8Array(bytes), type));
        },
      ),
      { numRuns: RUNS },
    );
    // The fuzz got past the parser too: some jobs were taken, and the
    // queue filling up is a 429, not an error.
    assert.ok(
      (statuses.get(202) ?? 0) + (statuses.get(429) ?? 0) > 0,
      JSON.stringify([...statuses]),
    );
  } finally {
    await r.stop();
  }
});
