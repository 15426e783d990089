/**
 * Test helpers for gridc: a recording Io, an in-process fake controller,
 * and sample API objects. Used only by client/*_test.ts.
 */
import type { JobSummary, JobView, NodeResult } from "../models/job.ts";
import type { NodeView, StatusView } from "../models/node.ts";
import type { ControllerView } from "../models/controller.ts";
import type { LiveOutput, LiveStatus } from "../models/live.ts";
import { runCli } from "./cli.ts";
import type { Io } from "./context.ts";

/** 2025-01-02T03:04:05Z: "now" in every test. */
export const NOW = Date.parse("2025-01-02T03:04:05Z");
export const ago = (seconds: number): string =>
  new Date(NOW - seconds * 1000).toISOString();

export interface Recorded {
  io: Io;
  out: () => string;
  err: () => string;
  /** Files made with createPrivateFile: path to content. */
  files: Map<string, string>;
}

/** An Io that records stdout/stderr, never sleeps, and is not a terminal. */
export function fakeIo(over: Partial<Io> = {}): Recorded {
  let out = "";
  let err = "";
  const files = new Map<string, string>();
  const io: Io = {
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
    readFile: () =>
      Promise.reject(new Deno.errors.NotFound("no files in tests")),
    createPrivateFile: (path) => {
      if (files.has(path)) {
        return Promise.reject(new Deno.errors.AlreadyExists(path));
      }
      files.set(path, "");
      return Promise.resolve({
        write: (text) => Promise.resolve(void files.set(path, text)),
        discard: () => Promise.resolve(void files.delete(path)),
      });
    },
    now: () => NOW,
    sleep: () => Promise.resolve(),
    env: {},
    tty: { stdout: false, stderr: false },
    denoVersion: "2.9.6",
    pollMs: 0,
    ...over,
  };
  return { io, out: () => out, err: () => err, files };
}

/** Runs gridc and returns its exit status and output. */
export async function gridc(
  argv: string[],
  over: Partial<Io> = {},
): Promise<{ code: number; out: string; err: string }> {
  const r = fakeIo(over);
  const code = await runCli(argv, r.io);
  return { code, out: r.out(), err: r.err() };
}

export interface FakeController extends AsyncDisposable {
  url: string;
  /** "METHOD /path?query" of every request, in order. */
  requests: string[];
  /** Bodies of POST requests, parsed. */
  bodies: unknown[];
}

type Route = (
  req: Request,
  url: URL,
) => Response | undefined | Promise<Response | undefined>;

/** A controller stand-in on 127.0.0.1 (random port); unknown routes answer 404. */
export function fakeController(route: Route): FakeController {
  const requests: string[] = [];
  const bodies: unknown[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const url = new URL(req.url);
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      if (req.method === "POST") {
        const text = await req.text();
        bodies.push(text === "" ? undefined : JSON.parse(text));
      }
      return (await route(req, url)) ??
        Response.json({ error: `no route ${req.method} ${url.pathname}` }, {
          status: 404,
        });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    bodies,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** One Server-Sent Event as the controller writes it. */
export function sseEvent(type: string, data: unknown, id?: string): string {
  return `event: ${type}\n${id === undefined ? "" : `id: ${id}\n`}data: ${
    JSON.stringify(data)
  }\n\n`;
}

/**
 * An event stream answer (`GET /job/:id/events`, `/output`). A stream
 * that ends without `end` is what a client sees when the controller goes
 * away mid-stream: it reconnects.
 */
export function sseResponse(text: string): Response {
  return new Response(text, {
    headers: { "content-type": "text/event-stream" },
  });
}

/** The `data` of an `output` event. */
export function liveOutput(
  node: string,
  text: string,
  over: Partial<LiveOutput> = {},
): LiveOutput {
  return { step: 0, node, attempt: 1, text, ...over };
}

/** The `data` of a `status` event for `j`. */
export function liveStatus(j: JobView, over: Partial<LiveStatus> = {}) {
  const { id, status, step, expected, offline, created_at, updated_at } = j;
  return {
    id,
    status,
    step,
    expected,
    offline,
    created_at,
    updated_at,
    ...over,
  } satisfies LiveStatus;
}

/** A port nothing listens on. */
export function closedPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

export function result(over: Partial<NodeResult> = {}): NodeResult {
  return { status: "success", duration: "1.2s", attempts: 1, ...over };
}

export function job(over: Partial<JobView> = {}): JobView {
  return {
    id: "j1",
    target: { scope: "group", value: "web" },
    strategy: "fail-fast",
    tasks: [
      { backend: "apt", action: "update" },
      {
        tasks: [
          { backend: "apt", action: "install", params: { package: "nginx" } },
          { backend: "systemd", action: "enable", params: { unit: "nginx" } },
        ],
      },
      { backend: "systemd", action: "start", params: { unit: "nginx" } },
    ],
    status: "running",
    step: 0,
    expected: ["web-01", "web-02"],
    offline: [],
    results: {},
    created_at: ago(90),
    updated_at: ago(5),
    ...over,
  };
}

export function summary(over: Partial<JobSummary> = {}): JobSummary {
  return {
    id: "j1",
    target: { scope: "all" },
    strategy: "fail-fast",
    status: "completed",
    step: 0,
    steps: 1,
    tasks: [{ backend: "ping", action: "echo" }],
    results: { "0": { success: 1 } },
    expected: ["web-01"],
    offline: [],
    created_at: ago(30),
    updated_at: ago(20),
    ...over,
  };
}

export function node(over: Partial<NodeView> = {}): NodeView {
  return {
    id: "web-01",
    hostname: "web-01.example.net",
    groups: ["web", "prod"],
    backends: ["apt", "ping"],
    actions: {
      ping: ["echo", "hostname", "sleep"],
      apt: ["install", "update"],
    },
    status: "online",
    last_seen: ago(3),
    started_at: ago(7200),
    version: "0.1.0",
    queued: 0,
    ...over,
  };
}

export function statusView(over: Partial<StatusView> = {}): StatusView {
  return {
    status: "active",
    version: "0.1.0",
    controller: "ctl-1",
    nodes: { total: 3, online: 2 },
    jobs: { running: 1, completed: 10, failed: 2 },
    queue: { running: 1, pending: 0, max_concurrent: 5, max_pending: 100 },
    ...over,
  };
}

export function controllerView(
  over: Partial<ControllerView> = {},
): ControllerView {
  return {
    id: "ctl-1",
    hostname: "grid-1.example.net",
    status: "online",
    last_seen: ago(1),
    started_at: ago(3600),
    version: "0.1.0",
    jobs: 2,
    ...over,
  };
}
