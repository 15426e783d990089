/**
 * Rules for names that end up inside NATS subjects and KV keys. A dot, a
 * space or a wildcard in one of these would re-route messages, so they are
 * checked wherever a name enters GRID: configs, job submissions, registrations.
 */
import { z } from "zod";

/** One subject token: groups, backends, actions, job ids. */
export const TOKEN_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Node ids may be host names, so dotted labels are allowed (each label a token). */
export const NODE_ID_RE = /^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63}){0,7}$/;

export const Token = z.string().regex(
  TOKEN_RE,
  "must be 1-64 letters, digits, '-' or '_' (it is used in NATS subjects)",
);

export const NodeId = z.string().regex(
  NODE_ID_RE,
  "must be letters, digits, '-', '_' and dot-separated labels (it is used in NATS subjects)",
);
