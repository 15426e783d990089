/**
 * A typed client for the controller's HTTP API. Every reply is checked
 * against the shared schema; the raw JSON is kept for `-o json`. Failures
 * become ApiError with a one-line message.
 */
import { z } from "zod";
import {
  AuditPage,
  EnrollResponse,
  TokenCreated,
  type TokenCreateRequest,
  TokenList,
  TokenView,
} from "../models/auth.ts";
import { formatDuration } from "../models/duration.ts";
import {
  describeIssues,
  JobList,
  type JobStatus,
  JobView,
} from "../models/job.ts";
import { PlanView } from "../models/job_plan.ts";
import { NodeView, StatusView } from "../models/node.ts";
import { ControllerView } from "../models/controller.ts";
import { BackendView } from "../models/backend_view.ts";
import { readSse, type SseEvent } from "./sse.ts";
import { errorText, networkReason, nextBefore, parseJson } from "./api_text.ts";

export { nextBefore, normalizeBaseUrl } from "./api_text.ts";

/** The controller answered with an error, or could not be reached (exit status 4). */
export class ApiError extends Error {
  override name = "ApiError";
  /** HTTP status; undefined when there was no usable answer. */
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.status = status;
  }
}

/** No HTTP answer at all: connection refused, DNS failure, timeout. */
export class UnreachableError extends ApiError {
  override name = "UnreachableError";
}

/** A checked reply and the JSON exactly as the controller sent it. */
export interface Reply<T> {
  data: T;
  raw: unknown;
}

type Issues = Parameters<typeof describeIssues>[0];
interface Schema<T> {
  safeParse(
    data: unknown,
  ): { success: true; data: T } | { success: false; error: Issues };
}

export const DEFAULT_API = "http://localhost:8765";

export interface ApiOptions {
  /** Defaults to the global fetch; tests pass their own. */
  fetch?: typeof fetch;
  /** Give up on a request after this long. Default 30s. */
  timeoutMs?: number;
  /** Sent as a bearer token. */
  token?: string;
}

/** Which output `GET /job/:id/output` streams. */
export interface OutputQuery {
  step?: number;
  node?: string;
  follow?: boolean;
}

export interface ListJobsQuery {
  limit?: number;
  before?: string;
  status?: JobStatus;
}

/** `POST /node/:id/revoke`: the node's view, or only its id for a node never seen. */
const RevokedNode = z.looseObject({ id: z.string(), status: z.string() });
export type RevokedNode = z.infer<typeof RevokedNode>;

/** A page of jobs, and the `before` of the next page when there is one. */
export interface JobPage {
  jobs: JobList;
  next?: string;
}

export class ApiClient {
  readonly base: string;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #token: string | undefined;

  /** `base` must already be normalised (see normalizeBaseUrl). */
  constructor(base: string, opts: ApiOptions = {}) {
    this.base = base;
    this.#fetch = opts.fetch ?? fetch;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#token = opts.token;
  }

  submitJob(body: unknown): Promise<Reply<JobView>> {
    return this.#request("POST", "/job", JobView, body);
  }

  /** What the job would do now; changes nothing. */
  planJob(body: unknown): Promise<Reply<PlanView>> {
    return this.#request("POST", "/job/plan", PlanView, body);
  }

  /** The job; `outputs: false` leaves the results' outputs out. */
  getJob(id: string, q: { outputs?: boolean } = {}): Promise<Reply<JobView>> {
    const query = q.outputs === false ? "?outputs=false" : "";
    return this.#request(
      "GET",
      `/job/${encodeURIComponent(id)}${query}`,
      JobView,
    );
  }

  cancelJob(id: string): Promise<Reply<JobView>> {
    return this.#request(
      "POST",
      `/job/${encodeURIComponent(id)}/cancel`,
      JobView,
    );
  }

  /** Starts the next batch of a rollout paused for approval. */
  resumeJob(id: string): Promise<Reply<JobView>> {
    return this.#request(
      "POST",
      `/job/${encodeURIComponent(id)}/resume`,
      JobView,
    );
  }

  /** One page; the next page's `before` comes from the `Link` header. */
  async listJobs(q: ListJobsQuery = {}): Promise<Reply<JobPage>> {
    const params = new URLSearchParams();
    if (q.limit !== undefined) params.set("limit", String(q.limit));
    if (q.before !== undefined) params.set("before", q.before);
    if (q.status !== undefined) params.set("status", q.status);
    const query = params.size > 0 ? `?${params}` : "";
    let link: string | null = null;
    const r = await this.#request("GET", `/jobs${query}`, JobList, undefined, (
      h,
    ) => link = h.get("link"));
    const next = nextBefore(link);
    return { raw: r.raw, data: { jobs: r.data, ...(next ? { next } : {}) } };
  }

  listNodes(): Promise<Reply<NodeView[]>> {
    return this.#request("GET", "/nodes", NodeView.array());
  }

  /** What the fleet's online nodes offer (`GET /backends`). */
  listBackends(): Promise<Reply<BackendView[]>> {
    return this.#request("GET", "/backends", BackendView.array());
  }

  listControllers(): Promise<Reply<ControllerView[]>> {
    return this.#request("GET", "/controllers", ControllerView.array());
  }

  /**
   * The job's events (`GET /job/:id/events`) after `lastId`, or undefined
   * from a controller that does not serve them (404): poll it instead.
   * `output: false` leaves out the running tasks' output.
   */
  jobEvents(
    id: string,
    lastId?: string,
    q: { output?: boolean } = {},
  ): Promise<AsyncGenerator<SseEvent> | undefined> {
    const query = q.output === false ? "?output=false" : "";
    return this.#events(
      `/job/${encodeURIComponent(id)}/events${query}`,
      lastId,
      true,
    );
  }

  /**
   * The job's output events (`GET /job/:id/output`) after `lastId`, of
   * one step and/or node; `follow: false` ends after what was streamed so
   * far.
   */
  async jobOutput(
    id: string,
    lastId: string | undefined,
    q: OutputQuery,
  ): Promise<AsyncGenerator<SseEvent>> {
    const params = new URLSearchParams();
    if (q.step !== undefined) params.set("step", String(q.step));
    if (q.node !== undefined) params.set("node", q.node);
    if (q.follow === false) params.set("follow", "false");
    const query = params.size > 0 ? `?${params}` : "";
    const path = `/job/${encodeURIComponent(id)}/output${query}`;
    return (await this.#events(path, lastId, false))!;
  }

  /** An SSE answer; undefined for a 404 when `missingOk` (else an ApiError). */
  async #events(
    path: string,
    lastId: string | undefined,
    missingOk: boolean,
  ): Promise<AsyncGenerator<SseEvent> | undefined> {
    const abort = new AbortController();
    // Only the answer's head is timed: the stream itself may be quiet for long.
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    let res: Response;
    try {
      const headers: Record<string, string> = {
        accept: "text/event-stream",
        ...(lastId ? { "last-event-id": lastId } : {}),
        ...(this.#token === undefined
          ? {}
          : { authorization: `Bearer ${this.#token}` }),
      };
      res = await this.#fetch(this.base + path, {
        signal: abort.signal,
        headers,
      });
    } catch (e) {
      throw new UnreachableError(
        abort.signal.aborted
          ? `the controller at ${this.base} did not answer GET ${path}`
          : `cannot reach the controller at ${this.base}: ${networkReason(e)}`,
      );
    } finally {
      clearTimeout(timer);
    }
    const type = res.headers.get("content-type") ?? "";
    if (res.ok && type.startsWith("text/event-stream") && res.body) {
      return readSse(res.body);
    }
    const text = await res.text();
    if (missingOk && (res.status === 404 || res.ok)) return undefined;
    if (res.ok) {
      throw new ApiError(
        `unexpected reply to GET ${path}: not an event stream`,
        res.status,
      );
    }
    throw new ApiError(
      `${
        errorText(parseJson(text), text, res.status, res.statusText)
      } (HTTP ${res.status})`,
      res.status,
    );
  }

  getNode(id: string): Promise<Reply<NodeView>> {
    return this.#request("GET", `/node/${encodeURIComponent(id)}`, NodeView);
  }

  status(): Promise<Reply<StatusView>> {
    return this.#request("GET", "/status", StatusView);
  }

  createToken(body: TokenCreateRequest): Promise<Reply<TokenCreated>> {
    return this.#request("POST", "/tokens", TokenCreated, body);
  }

  listTokens(): Promise<Reply<TokenList>> {
    return this.#request("GET", "/tokens", TokenList);
  }

  revokeToken(name: string): Promise<Reply<TokenView>> {
    return this.#request(
      "DELETE",
      `/tokens/${encodeURIComponent(name)}`,
      TokenView,
    );
  }

  audit(q: { limit?: number; before?: number } = {}): Promise<
    Reply<AuditPage>
  > {
    const params = new URLSearchParams();
    if (q.limit !== undefined) params.set("limit", String(q.limit));
    if (q.before !== undefined) params.set("before", String(q.before));
    const query = params.size > 0 ? `?${params}` : "";
    return this.#request("GET", `/audit${query}`, AuditPage);
  }

  enrollNode(
    id: string,
    groups: string[],
    labels?: Record<string, string>,
  ): Promise<Reply<EnrollResponse>> {
    return this.#request("POST", "/nodes/enroll", EnrollResponse, {
      id,
      groups,
      ...(labels ? { labels } : {}),
    });
  }

  revokeNode(id: string): Promise<Reply<RevokedNode>> {
    return this.#request(
      "POST",
      `/node/${encodeURIComponent(id)}/revoke`,
      RevokedNode,
    );
  }

  async #request<T>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    schema: Schema<T>,
    body?: unknown,
    onHeaders?: (h: Headers) => void,
  ): Promise<Reply<T>> {
    const url = this.base + path;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs);
    let status: number;
    let statusText: string;
    let text: string;
    try {
      const headers: Record<string, string> = { accept: "application/json" };
      if (body !== undefined) headers["content-type"] = "application/json";
      if (this.#token !== undefined) {
        headers.authorization = `Bearer ${this.#token}`;
      }
      const res = await this.#fetch(url, {
        method,
        signal: abort.signal,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      status = res.status;
      statusText = res.statusText;
      onHeaders?.(res.headers);
      text = await res.text();
    } catch (e) {
      if (abort.signal.aborted) {
        throw new UnreachableError(
          `the controller at ${this.base} did not answer ${method} ${path} within ${
            formatDuration(this.#timeoutMs)
          }`,
        );
      }
      throw new UnreachableError(
        `cannot reach the controller at ${this.base}: ${networkReason(e)}`,
      );
    } finally {
      clearTimeout(timer);
    }
    const json = parseJson(text);
    if (status < 200 || status > 299) {
      throw new ApiError(
        `${errorText(json, text, status, statusText)} (HTTP ${status})`,
        status,
      );
    }
    if (json === undefined) {
      throw new ApiError(
        `unexpected reply to ${method} ${path}: not JSON`,
        status,
      );
    }
    const r = schema.safeParse(json);
    if (!r.success) {
      throw new ApiError(
        `unexpected reply to ${method} ${path}: ${describeIssues(r.error)}`,
        status,
      );
    }
    return { data: r.data, raw: json };
  }
}
