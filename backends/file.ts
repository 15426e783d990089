/**
 * The `file` backend: read, write, stat, exists, mkdir, delete and
 * checksum of files under the worker's allowed roots
 * (`worker.file.allowed_paths`), through Deno's file APIs; no program is
 * run. Every path is resolved first (paths.ts) and the operation acts on
 * the resolved path, so what was checked is what is touched.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { dataOutput } from "./data.ts";
import { MAX_OUTPUT_BYTES } from "./output.ts";
import { described, intText, text } from "./params.ts";
import { absolutePath, PathPolicy } from "./paths.ts";
import { ActionError, type BackendDef, defineAction } from "./types.ts";

export interface FileOptions {
  /** Directories tasks may touch; none when empty. */
  allowedPaths?: readonly string[];
}

/** Permission bits as octal text ("644" or "0644"); no setuid, setgid or sticky. */
export function fileMode() {
  return described<string>({
    kind: "text",
    checks: [{
      pattern: "^0?[0-7]{3}$",
      message: 'must be octal permission bits such as "0644", got %s',
    }],
  });
}

export const CHECKSUM_ALGORITHMS = ["sha256", "sha512", "md5"] as const;

const algorithm = described<string>({
  kind: "enum",
  values: [...CHECKSUM_ALGORITHMS],
});

const hexDigest = described<string>({
  kind: "text",
  checks: [{
    pattern: "^(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})$",
    message: "must be a hex digest (32, 64 or 128 hex digits)",
  }],
});

export const StatData = z.object({
  path: z.string(),
  size: z.number().int().nonnegative(),
  /** Permission bits, "%04o" ("0644"). */
  mode: z.string(),
  /** RFC 3339, UTC; empty when the filesystem keeps none. */
  mod_time: z.string(),
  is_dir: z.boolean(),
});

export const ExistsData = z.object({ path: z.string(), exists: z.boolean() });

export const ChecksumData = z.object({
  path: z.string(),
  algorithm: z.enum(CHECKSUM_ALGORITHMS),
  hash: z.string(),
  /** Given only when an `expected` digest was: whether it matched. */
  matches: z.boolean().optional(),
});

/** How far back from its end `read` looks for lines. */
export const READ_WINDOW_BYTES = 4 * MAX_OUTPUT_BYTES;

export function octal(mode: number): string {
  return (mode & 0o777).toString(8).padStart(4, "0");
}

export function rfc3339(d: Date | null): string {
  return d ? d.toISOString().replace(/\.\d{3}Z$/, "Z") : "";
}

/** The last `n` lines of `path`, reading at most `window` bytes from its end. */
export async function tailLines(
  path: string,
  n: number,
  window = READ_WINDOW_BYTES,
): Promise<string> {
  using f = await Deno.open(path, { read: true });
  const size = (await f.stat()).size;
  const start = Math.max(0, size - window);
  await f.seek(start, Deno.SeekMode.Start);
  const buf = new Uint8Array(size - start);
  let got = 0;
  while (got < buf.length) {
    const r = await f.read(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  let lines = new TextDecoder().decode(buf.subarray(0, got)).split("\n");
  // A window that starts mid-file starts mid-line: that piece is not a line.
  if (start > 0) lines = lines.slice(1);
  if (lines.at(-1) === "") lines.pop();
  return lines.slice(-n).join("\n");
}

/** A hex digest of the file's content, read in chunks. */
export async function digestFile(
  path: string,
  alg: string,
  signal?: AbortSignal,
): Promise<string> {
  const h = createHash(alg);
  using f = await Deno.open(path, { read: true });
  for await (const chunk of f.readable.values({ preventCancel: true })) {
    signal?.throwIfAborted();
    h.update(chunk);
  }
  return h.digest("hex");
}

function notFound(path: string): ActionError {
  return new ActionError(`${path}: no such file or directory`, false);
}

/** Deno.stat that reports a missing path as a plain, final failure. */
export async function statOrFail(path: string): Promise<Deno.FileInfo> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw notFound(path);
    throw e;
  }
}

/** Fails unless `real` (what `path` resolved to) is a regular file. */
async function regularFile(path: string, real: string): Promise<void> {
  const s = await statOrFail(real);
  if (!s.isFile) {
    throw new ActionError(
      `${path} is ${s.isDirectory ? "a directory" : "not a regular file"}`,
      false,
    );
  }
}

/** Makes the `file` backend, confined to `opts.allowedPaths`. */
export function fileBackend(opts: FileOptions = {}): BackendDef {
  const policy = new PathPolicy(opts.allowedPaths ?? []);
  const path = absolutePath();
  return {
    name: "file",
    actions: {
      read: defineAction({
        params: z.strictObject({ path, lines: intText(1, 1000).default(100) }),
        run: async (p) => {
          const real = await policy.check(p.path);
          await regularFile(p.path, real);
          return { output: await tailLines(real, p.lines) };
        },
      }),
      write: defineAction({
        params: z.strictObject({
          path,
          content: text(),
          mode: fileMode().default("0644"),
        }),
        run: async (p) => {
          const real = await policy.check(p.path);
          const s = await Deno.stat(real).catch(() => undefined);
          if (s && !s.isFile) {
            throw new ActionError(`${p.path} exists and is not a file`, false);
          }
          const data = new TextEncoder().encode(p.content);
          // The mode is for a new file: an existing one keeps its own
          // (Deno would chmod it too), so a secret stays as tight as it was.
          await Deno.writeFile(
            real,
            data,
            s ? {} : { mode: parseInt(p.mode, 8), createNew: true },
          );
          return { output: `wrote ${data.length} bytes to ${p.path}` };
        },
      }),
      stat: defineAction({
        params: z.strictObject({ path }),
        data: StatData,
        run: async (p) => {
          const s = await statOrFail(await policy.check(p.path));
          return dataOutput({
            path: p.path,
            size: s.size,
            mode: octal(s.mode ?? 0),
            mod_time: rfc3339(s.mtime),
            is_dir: s.isDirectory,
          });
        },
      }),
      exists: defineAction({
        params: z.strictObject({ path }),
        data: ExistsData,
        run: async (p) => {
          const real = await policy.check(p.path);
          const exists = await Deno.lstat(real).then(() => true, (e) => {
            if (e instanceof Deno.errors.NotFound) return false;
            throw e;
          });
          return { output: String(exists), data: { path: p.path, exists } };
        },
      }),
      mkdir: defineAction({
        params: z.strictObject({ path, mode: fileMode().default("0755") }),
        run: async (p) => {
          const real = await policy.check(p.path);
          await Deno.mkdir(real, {
            recursive: true,
            mode: parseInt(p.mode, 8),
          });
          return { output: `created ${p.path}` };
        },
      }),
      delete: defineAction({
        params: z.strictObject({ path }),
        run: async (p) => {
          // The link itself, not what it leads to: deleting through a link
          // would remove a file the task never named.
          const real = await policy.check(p.path);
          const l = await Deno.lstat(p.path).catch(() => undefined);
          if (l?.isSymlink) {
            throw new ActionError(
              `refusing to delete symlink ${p.path}`,
              false,
            );
          }
          const s = await Deno.lstat(real).catch(() => undefined);
          if (!s) throw notFound(p.path);
          if (s.isDirectory) {
            throw new ActionError(
              `refusing to delete directory ${p.path} (single files only)`,
              false,
            );
          }
          await Deno.remove(real);
          return { output: `deleted ${p.path}` };
        },
      }),
      checksum: defineAction({
        params: z.strictObject({
          path,
          algorithm: algorithm.default("sha256"),
          expected: hexDigest.optional(),
        }),
        data: ChecksumData,
        run: async (p, ctx) => {
          const real = await policy.check(p.path);
          await regularFile(p.path, real);
          const hash = await digestFile(real, p.algorithm, ctx.signal);
          const found = { path: p.path, algorithm: p.algorithm, hash };
          if (p.expected === undefined) return dataOutput(found);
          const matches = hash === p.expected.toLowerCase();
          const data = { ...found, matches };
          if (matches) return dataOutput(data);
          // A check that does not hold fails the task, so a job can gate on it.
          throw new ActionError(
            `${p.path}: ${p.algorithm} is ${hash}, expected ${p.expected.toLowerCase()}`,
            false,
            JSON.stringify(data),
          );
        },
      }),
    },
  };
}
