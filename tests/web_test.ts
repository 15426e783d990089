/**
 * The web dashboard in a real browser (Debian's Chromium through
 * playwright-core) against a real controller and workers: sign-in and the
 * 401 path, the fleet, submitting with inline errors, the grid filling in
 * live, a node's output (streamed while its task runs), cancelling,
 * filtering jobs.
 */
import assert from "node:assert/strict";
import { signIn, webTest } from "./browser.ts";
import { waitFor } from "./harness.ts";

const WORKERS = [
  { id: "web-01", groups: ["web"] },
  { id: "web-02", groups: ["web"] },
];

webTest(
  "web: sign in, fleet, submit, live grid, output, cancel, filter, 401",
  WORKERS,
  async (c, page) => {
    await page.goto(`${c.api}/`);

    // A wrong token: the sign-in page says why.
    await signIn(page, "grid_" + "x".repeat(43));
    await page.getByTestId("signin-error").getByText(
      /unknown or revoked bearer token/,
    ).waitFor();
    assert.equal(await page.evaluate(() => location.search), "");

    await signIn(page, c.token!);
    await page.getByTestId("count-online").getByText("2").waitFor();
    assert.equal(await page.getByTestId("node-row").count(), 2);
    // The token is in session storage, never in the URL.
    assert.ok(!page.url().includes(c.token!));

    // Submit: a mistake is shown inline, naming the field.
    await page.getByTestId("nav-submit").click();
    // Found by its label, as a screen reader names it.
    await page.getByLabel("Job, as YAML or JSON").fill(
      "tasks:\n  - backend: test\n    action: frobnicate\n",
    );
    await page.getByTestId("submit").click();
    await page.getByTestId("submit-errors").getByText(/tasks\[0\]\.action/)
      .waitFor();

    // A job whose first step takes a moment: the grid fills in live.
    await page.getByTestId("yaml").fill([
      "target: {scope: group, value: web}",
      "tasks:",
      "  - {backend: test, action: sleep, params: {duration: 1500ms}}",
      '  - {backend: test, action: output, params: {lines: "3", width: "5"}}',
      "",
    ].join("\n"));
    await page.getByTestId("submit").click();
    await page.waitForURL(/#\/job\//);
    const id = page.url().split("#/job/")[1]!;
    const cell = (step: number, node: string) =>
      page.getByTestId(`cell-${step}-${node}`);
    await cell(0, "web-01").waitFor();
    assert.equal(
      await cell(1, "web-02").getAttribute("data-status"),
      "waiting",
    );
    await page.locator(
      '[data-testid="job-status"] [data-status="completed"]',
    )
      .waitFor();
    for (const node of ["web-01", "web-02"]) {
      for (const step of [0, 1]) {
        assert.equal(
          await cell(step, node).getAttribute("data-status"),
          "success",
        );
      }
    }
    assert.equal(await page.getByTestId("done-count").textContent(), "4/4");

    // A cell opens that node's result and its output.
    await cell(1, "web-02").click();
    await page.getByTestId("output").getByText("xxxxx").first().waitFor();
    assert.equal(
      await page.getByTestId("output").textContent(),
      "xxxxx\nxxxxx\nxxxxx",
    );
    await page.getByTestId("close-output").click();

    // A running task's cell streams its output: line 1 shows while
    // the task still runs, the stored result once it has ended.
    const streaming = await c.submit({
      target: { scope: "node", value: "web-02" },
      tasks: [{
        backend: "test",
        action: "stream",
        params: { lines: "5", interval: "1s" },
      }],
    });
    await page.goto(`${c.api}/#/job/${streaming}`);
    await page.locator(
      '[data-testid="cell-0-web-02"][data-status="running"]',
    ).waitFor();
    await cell(0, "web-02").click();
    await page.locator('[data-testid="output"][data-live="true"]')
      .getByText("line 1 of 5").waitFor();
    const during = await c.job(streaming);
    assert.equal(during.status, "running");
    assert.deepEqual(during.results, {});
    await page.locator('[data-testid="output"]:not([data-live])')
      .getByText("line 5 of 5").waitFor();
    assert.equal(
      await page.getByTestId("output").textContent(),
      [1, 2, 3, 4, 5].map((i) => `line ${i} of 5`).join("\n"),
    );
    await page.getByTestId("close-output").click();

    // Cancel a running job from its page.
    const slow = await c.submit({
      target: { scope: "node", value: "web-01" },
      tasks: [{
        backend: "test",
        action: "sleep",
        params: { duration: "60s" },
      }],
    });
    await page.goto(`${c.api}/#/job/${slow}`);
    await page.locator('[data-testid="job-status"] [data-status="running"]')
      .waitFor();
    await page.getByTestId("cancel").click();
    await page.locator(
      '[data-testid="job-status"] [data-status="cancelled"]',
    )
      .waitFor();
    assert.equal(
      await cell(0, "web-01").getAttribute("data-status"),
      "cancelled",
    );

    // The jobs list, filtered by status.
    await page.getByTestId("nav-jobs").click();
    await page.getByTestId("filter-cancelled").click();
    await waitFor("only the cancelled job listed", async () => {
      const ids = await page.getByTestId("job-row").evaluateAll((rows) =>
        rows.map((r) => r.getAttribute("data-id"))
      );
      return ids.length === 1 && ids[0] === slow;
    });
    await page.getByTestId("filter-completed").click();
    await page.locator(`[data-testid="job-row"][data-id="${id}"]`)
      .waitFor();

    // A token revoked while signed in: the next call lands on sign-in.
    const made = await c.request("POST", "/tokens", {
      name: "viewer",
      scope: "read",
    });
    assert.equal(made.status, 201);
    await page.getByTestId("signout").click();
    await signIn(page, made.json.token);
    await page.getByTestId("nav-fleet").click();
    await page.getByTestId("count-online").getByText("2").waitFor();
    assert.equal(
      (await c.request("DELETE", "/tokens/viewer")).status,
      200,
    );
    await page.getByTestId("signin-error").getByText(
      /unknown or revoked/,
    ).waitFor({ timeout: 30_000 });
  },
);

webTest(
  "web: a job on 1,000 nodes draws only the rows in view as it fills in",
  [],
  async (c, page) => {
    // The controller serves the page; this job's view and stream are
    // made up here, at a size no test rig runs workers for.
    const nodes = Array.from(
      { length: 1000 },
      (_, i) => `n-${String(i).padStart(4, "0")}`,
    );
    const now = new Date().toISOString();
    const rec = {
      id: "big1",
      target: { scope: "all" },
      strategy: "fail-fast",
      tasks: [
        { backend: "test", action: "succeed" },
        { backend: "test", action: "succeed" },
      ],
      status: "running",
      step: 0,
      expected: nodes,
      offline: [],
      created_at: now,
      updated_at: now,
    };
    const event = (type: string, data: unknown, id?: number) =>
      `event: ${type}\n${id ? `id: ${id}\n` : ""}data: ${
        JSON.stringify(data)
      }\n\n`;
    let body = event("status", { ...rec, results: undefined });
    let seq = 0;
    for (const step of [0, 1]) {
      for (let i = 0; i < nodes.length; i += 50) {
        seq++;
        const results = nodes.slice(i, i + 50).map((node) => ({
          step,
          node,
          status: "success",
          duration: "1ms",
          attempts: 1,
        }));
        body += event("result", { seq, results }, seq);
      }
    }
    body += event("status", { ...rec, status: "completed" }) +
      event("end", { status: "completed" });
    await page.route(
      (url) => url.pathname === "/job/big1",
      (route) => route.fulfill({ json: { ...rec, results: {} } }),
    );
    const asked: string[] = [];
    await page.route(
      (url) => url.pathname === "/job/big1/events",
      (route) => {
        asked.push(new URL(route.request().url()).search);
        return route.fulfill({
          body,
          headers: { "content-type": "text/event-stream" },
        });
      },
    );
    await page.goto(`${c.api}/`);
    await signIn(page, c.token!);
    await page.getByTestId("count-online").waitFor();
    const started = Date.now();
    await page.goto(`${c.api}/#/job/big1`);
    await page.locator(
      '[data-testid="job-status"] [data-status="completed"]',
    )
      .waitFor();
    await page.getByTestId("done-count").getByText("2000/2000").waitFor();
    const took = Date.now() - started;
    // The grid needs no output: the stream is asked for without it.
    assert.deepEqual(asked, ["?output=false"]);
    assert.ok(took < 10_000, `the page took ${took}ms`);
    const grid = page.getByTestId("grid");
    const drawn = Number(await grid.getAttribute("data-rendered"));
    assert.ok(drawn > 0 && drawn <= 60, `${drawn} rows drawn of 1000`);
    assert.equal(await page.locator(".grid-row:not(.head)").count(), drawn);
    // Scrolled to the end, the last node is drawn, filled in.
    await grid.evaluate((el) => el.scrollTop = el.scrollHeight);
    await page.getByTestId("cell-1-n-0999").waitFor();
    assert.equal(
      await page.getByTestId("cell-1-n-0999").getAttribute("data-status"),
      "success",
    );
    assert.equal(await page.getByTestId("cell-0-n-0000").count(), 0);
  },
);
