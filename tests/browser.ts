/**
 * Debian's Chromium driven by playwright-core, for the dashboard tests:
 * headless, no sandbox (CI runs as root), nothing fetched from the network
 * at start, a fresh profile in a temp dir removed at the end. A missing
 * Chromium fails the test with the way to install it: CI installs it
 * (scripts/setup.sh), so a silent skip would hide a broken setup.
 */
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { type Cluster, withCluster, type WorkerSpec } from "./harness.ts";

export const CHROMIUM = "/usr/bin/chromium";

const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  context: BrowserContext;
  page: Page;
}

/**
 * Runs `fn` with a fresh browser. On failure every open page is saved as
 * a screenshot in a temp dir whose path is printed; the profile is always
 * removed and the browser closed.
 */
export async function withBrowser(
  fn: (b: Browser) => Promise<void>,
): Promise<void> {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    throw new Error(
      `${CHROMIUM} not found: the dashboard tests need Debian's chromium ` +
        `(bash scripts/setup.sh installs it: apt-get install -y chromium)`,
    );
  }
  const profile = await Deno.makeTempDir({ prefix: "grid-chromium-" });
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 900 },
    });
    const page = context.pages()[0] ?? await context.newPage();
    page.setDefaultTimeout(20_000);
    try {
      await fn({ context, page });
    } catch (e) {
      const dir = await Deno.makeTempDir({ prefix: "grid-web-failure-" });
      for (const [i, p] of context.pages().entries()) {
        await p.screenshot({ path: join(dir, `page-${i}.png`), fullPage: true })
          .catch(() => {});
      }
      console.error(`screenshots of the failure: ${dir}`);
      throw e;
    }
  } finally {
    await context?.close().catch(() => {});
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** Signs in on the dashboard's sign-in page with `token`. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.getByTestId("token").fill(token);
  await page.getByTestId("signin").click();
}

/**
 * A dashboard test: a cluster with `workers` and a fresh browser. Chromium's
 * pipes and playwright's timers outlive single steps, so Deno's op and
 * resource sanitizers are off for it.
 */
export function webTest(
  name: string,
  workers: WorkerSpec[],
  fn: (c: Cluster, page: Page) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () =>
      withCluster({ workers }, (c) => withBrowser(({ page }) => fn(c, page))),
  });
}
