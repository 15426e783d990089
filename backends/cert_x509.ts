/**
 * X.509 for the `cert` backend, through node:crypto's X509Certificate
 * (built into Deno: no dependency, no openssl process): loading PEM or
 * DER, describing a certificate, and checking a chain against trusted
 * roots.
 *
 * The chain check walks from the leaf to a trusted root: each link must be
 * issued by the next (names and signature), every certificate must be
 * within its validity dates, and every issuer but a trusted root must be
 * a CA. It does not check name constraints, key usage or revocation.
 */
import { X509Certificate } from "node:crypto";

export class CertError extends Error {
  override name = "CertError";
}

const PEM_CERT_RE =
  /-----BEGIN CERTIFICATE-----\r?\n[\s\S]*?-----END CERTIFICATE-----/g;
const PRIVATE_KEY_RE = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;

/** A bundle or chain in a file: PEM blocks in order, or one DER certificate. */
export function parseCerts(
  bytes: Uint8Array,
  where: string,
): X509Certificate[] {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  if (PRIVATE_KEY_RE.test(text)) {
    throw new CertError(`refusing to process private key file ${where}`);
  }
  const blocks = text.match(PEM_CERT_RE);
  if (blocks) {
    return blocks.map((b, i) => {
      try {
        return new X509Certificate(b);
      } catch (e) {
        throw new CertError(
          `certificate ${i + 1} in ${where} does not parse: ${
            (e as Error).message
          }`,
        );
      }
    });
  }
  try {
    return [new X509Certificate(bytes)];
  } catch {
    throw new CertError(`no PEM or DER certificate found in ${where}`);
  }
}

/** RFC 3339 UTC, to the second. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function dateOf(c: X509Certificate, which: "from" | "to"): Date {
  // validFromDate/validToDate exist in Deno and newer Node; the text form everywhere.
  const x = c as unknown as { validFromDate?: Date; validToDate?: Date };
  const d = which === "from" ? x.validFromDate : x.validToDate;
  return d ?? new Date(which === "from" ? c.validFrom : c.validTo);
}

export const notBefore = (c: X509Certificate) => dateOf(c, "from");
export const notAfter = (c: X509Certificate) => dateOf(c, "to");

const DAY_MS = 86_400_000;

/** Whole days until `d`, toward zero (negative once past). */
export function daysUntil(d: Date, now: number): number {
  return Math.trunc((d.getTime() - now) / DAY_MS);
}

/** "CN=a\nO=b" → "CN=a, O=b". */
function oneLine(name: string): string {
  return name.split("\n").filter((s) => s).join(", ");
}

function altNames(c: X509Certificate, kind: string): string[] {
  return (c.subjectAltName ?? "").split(/,\s*/)
    .filter((s) => s.startsWith(`${kind}:`))
    .map((s) => s.slice(kind.length + 1));
}

export interface CertInfo {
  subject: string;
  issuer: string;
  serial: string;
  not_before: string;
  not_after: string;
  dns_names: string[];
  ip_addresses: string[];
  is_ca: boolean;
  expired: boolean;
  days_until_expiry: number;
  fingerprint_sha256: string;
}

export function describeCert(c: X509Certificate, now = Date.now()): CertInfo {
  const after = notAfter(c);
  return {
    subject: oneLine(c.subject),
    issuer: oneLine(c.issuer),
    serial: c.serialNumber.toLowerCase(),
    not_before: rfc3339(notBefore(c)),
    not_after: rfc3339(after),
    dns_names: altNames(c, "DNS"),
    ip_addresses: altNames(c, "IP Address"),
    is_ca: c.ca,
    expired: after.getTime() < now,
    days_until_expiry: daysUntil(after, now),
    fingerprint_sha256: c.fingerprint256.replaceAll(":", "").toLowerCase(),
  };
}

/** Whether `issuer` issued `c`: its name and its signature. */
function issued(c: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return c.checkIssued(issuer) && c.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function timeProblem(c: X509Certificate, now: number): string | undefined {
  const name = oneLine(c.subject) || "(no subject)";
  if (notBefore(c).getTime() > now) return `${name} is not valid yet`;
  if (notAfter(c).getTime() < now) return `${name} has expired`;
  return undefined;
}

export interface ChainResult {
  valid: boolean;
  /** Certificates in the chain found, the leaf and the root included. */
  chain_count: number;
  chain: string[];
  error?: string;
}

const MAX_DEPTH = 10;

/**
 * Checks `certs[0]` (the leaf) up to one of `roots`, through the other
 * certificates in `certs` as intermediates.
 */
export function verifyChain(
  certs: readonly X509Certificate[],
  roots: readonly X509Certificate[],
  now = Date.now(),
): ChainResult {
  const [leaf, ...pool] = certs;
  if (!leaf) {
    return { valid: false, chain_count: 0, chain: [], error: "no certificate" };
  }
  const chain: X509Certificate[] = [leaf];
  const result = (error?: string): ChainResult => ({
    valid: error === undefined,
    chain_count: chain.length,
    chain: chain.map((c) => oneLine(c.subject)),
    ...(error === undefined ? {} : { error }),
  });
  let cur = leaf;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const late = timeProblem(cur, now);
    if (late) return result(late);
    if (roots.some((r) => r.raw.equals(cur.raw))) return result();
    const root = roots.find((r) => issued(cur, r));
    if (root) {
      chain.push(root);
      return result(timeProblem(root, now));
    }
    const next = pool.find((i) => !chain.includes(i) && i.ca && issued(cur, i));
    if (!next) {
      return result(
        `no trusted issuer found for ${
          oneLine(cur.subject) || "(no subject)"
        } (issuer ${oneLine(cur.issuer)})`,
      );
    }
    chain.push(next);
    cur = next;
  }
  return result(`chain longer than ${MAX_DEPTH}`);
}
