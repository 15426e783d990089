/**
 * API credentials and the audit trail: bearer tokens with a scope, what the
 * token routes take and answer, audit entries, and node enrollment.
 */
import { z } from "zod";
import { DurationString } from "./job.ts";
import { NodeId, Token } from "./names.ts";
import { Labels } from "./selector.ts";

/** What a token may do. Each scope includes the ones before it. */
export const TokenScope = z.enum(["read", "operate", "admin"]);
export type TokenScope = z.infer<typeof TokenScope>;

/** Whether a token of scope `has` may do what needs `needs`. */
export function scopeAllows(has: TokenScope, needs: TokenScope): boolean {
  return TokenScope.options.indexOf(has) >= TokenScope.options.indexOf(needs);
}

/** A token as stored (KV `grid_tokens`, keyed by name): never the token itself. */
export const TokenRecord = z.object({
  name: Token,
  scope: TokenScope,
  /** SHA-256 of the token, hex. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  created_at: z.string(),
  /** The token name that created it ("bootstrap" for the first one). */
  created_by: z.string(),
  expires_at: z.string().optional(),
});
export type TokenRecord = z.infer<typeof TokenRecord>;

/** `GET /tokens` rows: the record without its hash. */
export const TokenView = TokenRecord.omit({ hash: true });
export type TokenView = z.infer<typeof TokenView>;

export const TokenList = z.object({ tokens: z.array(TokenView) });
export type TokenList = z.infer<typeof TokenList>;

/** `POST /tokens`. */
export const TokenCreateRequest = z.object({
  name: Token,
  scope: TokenScope,
  /** How long the token is valid; forever when absent. */
  ttl: DurationString.optional(),
}).strict();
export type TokenCreateRequest = z.infer<typeof TokenCreateRequest>;

/** `POST /tokens` answer: the only time the token itself is shown. */
export const TokenCreated = TokenView.extend({ token: z.string() });
export type TokenCreated = z.infer<typeof TokenCreated>;

export const AuditOutcome = z.enum(["ok", "refused", "failed"]);
export type AuditOutcome = z.infer<typeof AuditOutcome>;

/** One state change, or one refused attempt at one (stream GRID_AUDIT). */
export const AuditEntry = z.object({
  /** Stream sequence: set when read back, the `before` of the next page. */
  seq: z.number().int().optional(),
  at: z.string(),
  /** Token name; "-" when there was none (or it was not valid). */
  who: z.string(),
  /** Remote address of the request. */
  from: z.string(),
  /** e.g. job.submit, job.cancel, token.create, token.revoke, node.enroll, node.revoke. */
  action: z.string(),
  /** The job id, token name or node id acted on, when there is one. */
  target: z.string().optional(),
  outcome: AuditOutcome,
  /** Why it was refused or failed. */
  error: z.string().optional(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** `GET /audit`: newest first; pass `next` as `before` for older entries. */
export const AuditPage = z.object({
  entries: z.array(AuditEntry),
  next: z.number().int().optional(),
});
export type AuditPage = z.infer<typeof AuditPage>;

/** `POST /nodes/enroll`: the groups are fixed for the credentials' life. */
export const EnrollRequest = z.object({
  id: NodeId,
  groups: z.array(Token).refine(
    (g) => new Set(g).size === g.length,
    "must not list a group twice",
  ),
  /** The labels it may carry (models/selector.ts). */
  labels: Labels.default({}),
}).strict();
export type EnrollRequest = z.infer<typeof EnrollRequest>;

/** `POST /nodes/enroll` answer: `creds` is a NATS .creds file's text. */
export const EnrollResponse = z.object({
  id: NodeId,
  groups: z.array(Token),
  labels: z.record(z.string(), z.string()).optional(),
  creds: z.string(),
});
export type EnrollResponse = z.infer<typeof EnrollResponse>;
