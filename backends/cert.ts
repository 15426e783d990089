/**
 * The `cert` backend: inspect, verify, expiry and fingerprint of
 * certificate files, and `remote` for the certificate a TLS server shows.
 * Files are read only under the usual certificate directories and the
 * worker's allowed roots; a file holding a private key is refused without
 * its content ever reaching the output.
 *
 * A check that finds the certificate bad fails the task, with its JSON
 * detail in the output: `verify` of a chain that does not lead to a
 * trusted root, `expiry` of an expired certificate (or one expiring within
 * `min_days`). `inspect` and `remote` only report.
 */
import { createHash, X509Certificate } from "node:crypto";
import * as tls from "node:tls";
import { z } from "zod";
import { CERT_DIRS } from "../models/backend_table.ts";
import {
  CertError,
  describeCert,
  parseCerts,
  verifyChain,
} from "./cert_x509.ts";
import { dataOutput } from "./data.ts";
import { described, duration, intText } from "./params.ts";
import { absolutePath, PathPolicy } from "./paths.ts";
import { host, port } from "./sys_params.ts";
import { ActionError, type BackendDef, defineAction } from "./types.ts";

/** The system's trusted roots, the first bundle that exists. */
export const SYSTEM_CA_BUNDLES = [
  "/etc/ssl/certs/ca-certificates.crt",
  "/etc/pki/tls/certs/ca-bundle.crt",
  "/etc/ssl/cert.pem",
] as const;

/** No certificate file is this large. */
const MAX_CERT_FILE = 4 * 1024 * 1024;

export interface CertOptions {
  /** More directories certificates may be read from (`worker.file.allowed_paths`). */
  allowedPaths?: readonly string[];
  /** Trusted roots when `verify` is given no `ca_path`. @default SYSTEM_CA_BUNDLES */
  systemBundles?: readonly string[];
  /** The clock, for tests. @default Date.now */
  now?: () => number;
}

export const CertData = z.object({
  subject: z.string(),
  issuer: z.string(),
  serial: z.string(),
  not_before: z.string(),
  not_after: z.string(),
  dns_names: z.array(z.string()),
  ip_addresses: z.array(z.string()),
  is_ca: z.boolean(),
  expired: z.boolean(),
  days_until_expiry: z.number().int(),
  fingerprint_sha256: z.string(),
});

export const RemoteData = CertData.extend({
  host: z.string(),
  port: z.number().int(),
  /** Whether the system's roots trust what the server sent, for its name. */
  trusted: z.boolean(),
  trust_error: z.string().optional(),
});

export const VerifyData = z.object({
  path: z.string(),
  valid: z.boolean(),
  chain_count: z.number().int().nonnegative(),
  chain: z.array(z.string()),
  error: z.string().optional(),
});

export const ExpiryData = z.object({
  path: z.string(),
  not_after: z.string(),
  days_remaining: z.number().int(),
  expired: z.boolean(),
  min_days: z.number().int().optional(),
});

export const FingerprintData = z.object({
  path: z.string(),
  algorithm: z.enum(["sha256", "sha512", "md5"]),
  fingerprint: z.string(),
});

const algorithm = described<string>({
  kind: "enum",
  values: ["sha256", "sha512", "md5"],
});

/** The server's leaf certificate, and whether the system's roots trust it. */
export function fetchRemote(
  hostname: string,
  p: number,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ cert: X509Certificate; trusted: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const isIp = /^[\d.]+$|:/.test(hostname);
    const socket = tls.connect({
      host: hostname,
      port: p,
      // Inspection only: an untrusted certificate is what one looks at.
      rejectUnauthorized: false,
      ...(isIp ? {} : { servername: hostname.replace(/\.$/, "") }),
    });
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      socket.destroy();
      fn();
    };
    const onAbort = () =>
      finish(() =>
        reject(
          new ActionError(`cert remote: ${String(signal.reason ?? "aborted")}`),
        )
      );
    const timer = setTimeout(
      () =>
        finish(() =>
          reject(
            new ActionError(
              `cert remote: no TLS handshake with ${hostname}:${p} within ${timeoutMs} ms`,
            ),
          )
        ),
      timeoutMs,
    );
    signal.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      const peer = socket.getPeerCertificate();
      const raw = peer?.raw;
      const err = socket.authorizationError;
      finish(() =>
        raw
          ? resolve({
            cert: new X509Certificate(raw),
            trusted: socket.authorized === true,
            ...(err ? { error: String(err) } : {}),
          })
          : reject(
            new ActionError(
              `cert remote: ${hostname}:${p} sent no certificate`,
            ),
          )
      );
    });
    socket.once(
      "error",
      (e: Error) =>
        finish(() =>
          reject(new ActionError(`cert remote: ${hostname}:${p}: ${e.message}`))
        ),
    );
  });
}

/** Makes the `cert` backend. */
export function certBackend(opts: CertOptions = {}): BackendDef {
  const policy = new PathPolicy([...CERT_DIRS, ...(opts.allowedPaths ?? [])]);
  const now = opts.now ?? Date.now;
  const path = absolutePath();

  async function load(p: string): Promise<X509Certificate[]> {
    const real = await policy.check(p);
    const s = await Deno.stat(real).catch(() => undefined);
    if (!s?.isFile) throw new ActionError(`${p} is not a file`, false);
    if (s.size > MAX_CERT_FILE) {
      throw new ActionError(`${p} is too large for a certificate file`, false);
    }
    try {
      return parseCerts(await Deno.readFile(real), p);
    } catch (e) {
      if (e instanceof CertError) throw new ActionError(e.message, false);
      throw e;
    }
  }

  async function trustedRoots(caPath: string | undefined) {
    if (caPath !== undefined) return await load(caPath);
    for (const b of opts.systemBundles ?? SYSTEM_CA_BUNDLES) {
      const bytes = await Deno.readFile(b).catch(() => undefined);
      if (!bytes) continue;
      try {
        return parseCerts(bytes, b);
      } catch (e) {
        throw new ActionError(`${b}: ${(e as Error).message}`, false);
      }
    }
    throw new ActionError("no system CA bundle found; give ca_path", false);
  }

  return {
    name: "cert",
    actions: {
      inspect: defineAction({
        params: z.strictObject({ path }),
        data: CertData,
        run: async (p) =>
          dataOutput(describeCert((await load(p.path))[0]!, now())),
      }),
      verify: defineAction({
        params: z.strictObject({ path, ca_path: absolutePath().optional() }),
        data: VerifyData,
        run: async (p) => {
          const certs = await load(p.path);
          const roots = await trustedRoots(p.ca_path);
          const r = { path: p.path, ...verifyChain(certs, roots, now()) };
          if (r.valid) return dataOutput(r);
          throw new ActionError(
            `cert verify: ${p.path} is not trusted: ${r.error}`,
            false,
            JSON.stringify(r),
          );
        },
      }),
      expiry: defineAction({
        params: z.strictObject({ path, min_days: intText(0, 3650).optional() }),
        data: ExpiryData,
        run: async (p) => {
          const info = describeCert((await load(p.path))[0]!, now());
          const data = {
            path: p.path,
            not_after: info.not_after,
            days_remaining: info.days_until_expiry,
            expired: info.expired,
            ...(p.min_days === undefined ? {} : { min_days: p.min_days }),
          };
          const short = p.min_days !== undefined &&
            data.days_remaining < p.min_days;
          if (!data.expired && !short) return dataOutput(data);
          throw new ActionError(
            data.expired
              ? `cert expiry: ${p.path} expired on ${data.not_after}`
              : `cert expiry: ${p.path} expires in ${data.days_remaining} days (on ${data.not_after}), fewer than ${p.min_days}`,
            false,
            JSON.stringify(data),
          );
        },
      }),
      remote: defineAction({
        params: z.strictObject({
          host: host(),
          port: port().default(443),
          timeout: duration().default(10_000),
        }),
        data: RemoteData,
        run: async (p, ctx) => {
          const r = await fetchRemote(p.host, p.port, p.timeout, ctx.signal);
          return dataOutput({
            host: p.host,
            port: p.port,
            ...describeCert(r.cert, now()),
            trusted: r.trusted,
            ...(r.error ? { trust_error: r.error } : {}),
          });
        },
      }),
      fingerprint: defineAction({
        params: z.strictObject({
          path,
          algorithm: algorithm.default("sha256"),
        }),
        data: FingerprintData,
        run: async (p) => {
          const c = (await load(p.path))[0]!;
          return dataOutput({
            path: p.path,
            algorithm: p.algorithm,
            fingerprint: createHash(p.algorithm).update(c.raw).digest("hex"),
          });
        },
      }),
    },
  };
}
