/**
 * A rollout in the dashboard (Debian's Chromium through playwright-core)
 * against a real controller and three labelled workers: the fleet shows
 * each node's labels; a canary job submitted from the page pauses after
 * its canary, the jobs list and the job page say so, Resume (POST
 * /job/:id/resume) starts the next batches, and the job completes with
 * every batch shown done.
 */
import assert from "node:assert/strict";
import { signIn, webTest } from "./browser.ts";
import { waitFor } from "./harness.ts";

const WEB = { role: "web", env: "prod" };
const WORKERS = [
  { id: "web-01", groups: ["web"], labels: WEB },
  { id: "web-02", groups: ["web"], labels: WEB },
  { id: "web-03", groups: ["web"], labels: { role: "web", env: "canary" } },
];

webTest(
  "web: node labels, a canary rollout paused, resumed, completed",
  WORKERS,
  async (c, page) => {
    await page.goto(`${c.api}/`);
    await signIn(page, c.token!);
    await page.getByTestId("count-online").getByText("3").waitFor();

    // Each node's labels, as enrolled, sorted by key.
    const labels = async () =>
      Object.fromEntries(
        await page.getByTestId("node-row").evaluateAll((rows) =>
          rows.map((r) => [
            r.querySelector("span")!.textContent,
            r.querySelector('[data-testid="node-labels"]')!.textContent,
          ])
        ),
      );
    await waitFor(
      "labels on the fleet page",
      async () => (await labels())["web-03"] === "env=canary, role=web",
      20_000,
    );
    assert.deepEqual(await labels(), {
      "web-01": "env=prod, role=web",
      "web-02": "env=prod, role=web",
      "web-03": "env=canary, role=web",
    });
    // The filter takes a label as key=value.
    await page.getByLabel("Filter nodes").fill("env=canary");
    await waitFor(
      "the filter to keep web-03 alone",
      async () => (await page.getByTestId("node-row").count()) === 1,
      10_000,
    );

    // A canary of one node, then batches of one: three batches.
    await page.getByTestId("nav-submit").click();
    await page.getByTestId("yaml").fill([
      'target: {selector: "role=web"}',
      "rollout: {batch: 1, canary: 1}",
      "tasks:",
      "  - {backend: test, action: succeed}",
      "",
    ].join("\n"));
    await page.getByTestId("submit").click();
    await page.waitForURL(/#\/job\//);
    const id = page.url().split("#/job/")[1]!;

    const rollout = page.getByTestId("rollout");
    await page.locator('[data-testid="rollout"][data-paused="true"]')
      .waitFor();
    await page.getByTestId("resume").waitFor();
    assert.match(
      (await rollout.textContent())!,
      /batch 1 of 3 · paused for approval/,
    );
    assert.match(
      (await page.getByTestId("rollout-budget").textContent())!,
      /^0 failed \(no limit\)$/,
    );
    // Only the canary (the first node in order) has run.
    const paused = await c.job(id);
    assert.equal(paused.status, "running");
    assert.equal(paused.rollout_status.paused, true);
    assert.deepEqual(Object.keys(paused.results["0"] ?? {}), ["web-01"]);
    await page.locator(
      '[data-testid="cell-0-web-01"][data-status="success"]',
    )
      .waitFor();
    assert.equal(
      await page.getByTestId("cell-0-web-02").getAttribute("data-status"),
      "waiting",
    );

    // The jobs list marks it paused.
    await page.getByTestId("nav-jobs").click();
    await page.locator(
      `[data-testid="job-row"][data-id="${id}"] [data-testid="job-paused"]`,
    ).waitFor();
    await page.goto(`${c.api}/#/job/${id}`);
    await page.getByTestId("resume").waitFor();

    await page.getByTestId("resume").click();
    await page.locator(
      '[data-testid="job-status"] [data-status="completed"]',
    ).waitFor();
    await page.locator('[data-testid="rollout"][data-paused="false"]')
      .waitFor();
    assert.equal(await page.getByTestId("resume").count(), 0);
    await waitFor(
      "the last batch shown",
      async () => /batch 3 of 3/.test((await rollout.textContent())!),
      10_000,
    );
    assert.deepEqual(
      await page.getByTestId("rollout-batch").allTextContents(),
      ["1: 1/1 done", "2: 1/1 done", "3: 1/1 done"],
    );
    for (const node of ["web-01", "web-02", "web-03"]) {
      assert.equal(
        await page.getByTestId(`cell-0-${node}`).getAttribute(
          "data-status",
        ),
        "success",
      );
    }
    const done = await c.job(id);
    assert.equal(done.status, "completed");
    assert.equal(done.rollout_status.batch, 3);
  },
);
