/**
 * The `config` backend: get, set, validate and diff YAML, JSON and INI
 * files by dotted key ("server.port"), under the worker's allowed roots
 * (`worker.file.allowed_paths`, as for `file`). No program is run.
 *
 * `set` never leaves a half-written file: the new text goes to a temporary
 * file beside it, which then replaces it in one rename, with the old
 * file's mode and owner; the old content is kept as `<path>.bak`, also
 * with its mode (a secret's backup is no more readable than the secret).
 */
import { basename, dirname } from "node:path";
import { z } from "zod";
import {
  CONFIG_FORMATS,
  ConfigError,
  type ConfigFormat,
  formatOf,
  getValue,
  lineDiff,
  setValue,
  validate,
} from "./config_formats.ts";
import { dataOutput } from "./data.ts";
import { statOrFail } from "./file.ts";
import { described, text } from "./params.ts";
import { absolutePath, PathPolicy } from "./paths.ts";
import { ActionError, type BackendDef, defineAction } from "./types.ts";

export interface ConfigOptions {
  /** Directories tasks may touch; none when empty. */
  allowedPaths?: readonly string[];
}

/** Config files larger than this are not read: they are not config. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

const SEGMENT = "[A-Za-z0-9_-]+";

/** "server.port": segments of letters, digits, "_" and "-", joined by dots. */
export const configKey = described<string>({
  kind: "text",
  checks: [
    {
      pattern: `^${SEGMENT}(?:\\.${SEGMENT}){0,31}$`,
      message:
        'must be dot-separated names of letters, digits, "_" and "-" (at most 32), got %s',
    },
    {
      pattern: "^(?!(?:.*\\.)?(?:__proto__|constructor|prototype)(?:\\.|$))",
      message: "must not name __proto__, constructor or prototype",
    },
    { pattern: "^.{1,512}$", message: "must be at most 512 characters" },
  ],
});

/** One line, at most 64 KiB: INI has no way to hold more, YAML and JSON need no more. */
const configValue = described<string>({
  kind: "text",
  checks: [
    {
      pattern: "^[^\\x00-\\x08\\x0a-\\x1f\\x7f]*$",
      message: "must be one line without control characters",
    },
    {
      pattern: "^[\\s\\S]{0,65536}$",
      message: "must be at most 65536 characters",
    },
  ],
});

const format = described<string>({ kind: "enum", values: [...CONFIG_FORMATS] });

export const ValidateData = z.object({
  path: z.string(),
  format: z.enum(CONFIG_FORMATS),
  valid: z.boolean(),
  error: z.string().optional(),
});

export const DiffData = z.object({
  path: z.string(),
  changed: z.boolean(),
  added: z.number().int().nonnegative(),
  removed: z.number().int().nonnegative(),
});

/** The file's text; undefined when it does not exist. */
async function readConfig(
  path: string,
  real: string,
): Promise<string | undefined> {
  const s = await Deno.stat(real).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  });
  if (!s) return undefined;
  if (!s.isFile) throw new ActionError(`${path} is not a regular file`, false);
  if (s.size > MAX_CONFIG_BYTES) {
    throw new ActionError(
      `${path} is ${s.size} bytes; config files over ${MAX_CONFIG_BYTES} are not read`,
      false,
    );
  }
  return await Deno.readTextFile(real);
}

function tempName(real: string, what: string): string {
  const tag = crypto.randomUUID().slice(0, 12);
  return `${dirname(real)}/.${basename(real)}.grid-${what}-${tag}`;
}

/**
 * Puts `text` at `real` by rename, so readers see the old file or the new
 * one, never a part. The old file's mode and owner carry over; a new
 * file gets 0644.
 */
export async function replaceFile(real: string, text: string): Promise<void> {
  const old = await Deno.stat(real).catch(() => undefined);
  const mode = old?.mode !== null && old?.mode !== undefined
    ? old.mode & 0o7777
    : 0o644;
  const tmp = tempName(real, "new");
  try {
    await Deno.writeTextFile(tmp, text, { createNew: true, mode });
    await Deno.chmod(tmp, mode); // the umask may have taken bits away
    if (old?.uid !== null && old?.uid !== undefined && old.gid !== null) {
      // Only root may give a file away; otherwise it stays ours.
      await Deno.chown(tmp, old.uid, old.gid).catch(() => {});
    }
    await Deno.rename(tmp, real);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
}

/** Copies `real` to `<real>.bak` by rename too, so a link named .bak is replaced, not followed. */
async function backup(real: string): Promise<string> {
  const tmp = tempName(real, "bak");
  try {
    await Deno.copyFile(real, tmp);
    await Deno.rename(tmp, `${real}.bak`);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  return `${real}.bak`;
}

function configFailure(path: string, e: unknown): never {
  if (e instanceof ConfigError) {
    throw new ActionError(`${path}: ${e.message}`, false);
  }
  throw e;
}

/** Makes the `config` backend, confined to `opts.allowedPaths`. */
export function configBackend(opts: ConfigOptions = {}): BackendDef {
  const policy = new PathPolicy(opts.allowedPaths ?? []);
  const path = absolutePath();
  const fmt = (p: { path: string; format?: string }) =>
    (p.format as ConfigFormat | undefined) ?? formatOf(p.path);
  return {
    name: "config",
    actions: {
      get: defineAction({
        params: z.strictObject({
          path,
          key: configKey,
          format: format.optional(),
        }),
        run: async (p) => {
          const real = await policy.check(p.path);
          await statOrFail(real);
          const text = (await readConfig(p.path, real))!;
          let v: string | undefined;
          try {
            v = getValue(fmt(p), text, p.key);
          } catch (e) {
            configFailure(p.path, e);
          }
          if (v === undefined) {
            throw new ActionError(
              `key "${p.key}" not found in ${p.path}`,
              false,
            );
          }
          return { output: v };
        },
      }),
      set: defineAction({
        params: z.strictObject({
          path,
          key: configKey,
          value: configValue,
          format: format.optional(),
        }),
        run: async (p) => {
          const real = await policy.check(p.path);
          const old = await readConfig(p.path, real);
          let next = "";
          try {
            next = setValue(fmt(p), old ?? "", p.key, p.value);
          } catch (e) {
            configFailure(p.path, e);
          }
          const lines = [`set ${p.key}=${p.value} in ${p.path}`];
          if (old === next) {
            return { output: `${lines[0]} (unchanged)` };
          }
          if (old !== undefined) lines.push(`backup: ${await backup(real)}`);
          else if (!(await Deno.stat(dirname(real)).catch(() => null))) {
            throw new ActionError(
              `${
                dirname(p.path)
              } does not exist (config set creates the file, not its directory)`,
              false,
            );
          }
          await replaceFile(real, next);
          return { output: lines.join("\n") };
        },
      }),
      validate: defineAction({
        params: z.strictObject({ path, format: format.optional() }),
        data: ValidateData,
        run: async (p) => {
          const real = await policy.check(p.path);
          await statOrFail(real);
          const text = (await readConfig(p.path, real))!;
          const f = fmt(p);
          try {
            validate(f, text);
          } catch (e) {
            if (!(e instanceof ConfigError)) throw e;
            const data = {
              path: p.path,
              format: f,
              valid: false,
              error: e.message,
            };
            // Invalid fails the task, so a job stops before reloading a broken config.
            throw new ActionError(
              `${p.path} is not valid ${f}: ${e.message}`,
              false,
              JSON.stringify(data),
            );
          }
          return dataOutput({ path: p.path, format: f, valid: true });
        },
      }),
      diff: defineAction({
        params: z.strictObject({ path, content: text() }),
        data: DiffData,
        run: async (p) => {
          const real = await policy.check(p.path);
          const old = await readConfig(p.path, real);
          const split = (t: string) =>
            t === "" ? [] : t.replace(/\n$/, "").split("\n");
          const d = lineDiff(split(old ?? ""), split(p.content));
          const header = [
            `--- ${old === undefined ? "/dev/null" : p.path}`,
            "+++ proposed",
          ];
          return {
            output: [...header, ...d.lines].join("\n"),
            data: {
              path: p.path,
              changed: d.added + d.removed > 0,
              added: d.added,
              removed: d.removed,
            },
          };
        },
      }),
    },
  };
}
