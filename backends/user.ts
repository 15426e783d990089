/**
 * The `user` backend: local accounts. `list` reads the passwd file; the
 * rest run id(1) and shadow's useradd, userdel and groupadd with every name
 * checked (sys_params.ts) and placed after "--". System accounts are off
 * limits: the reserved names cannot be created or deleted, and no account
 * below UID 1000 (nor nobody) can be deleted, whatever its name.
 */
import { z } from "zod";
import { execOutput, failedRun } from "./output.ts";
import { described, intText } from "./params.ts";
import { accountName } from "./sys_params.ts";
import {
  type ActionContext,
  ActionError,
  type BackendDef,
  defineAction,
  type ExecResult,
} from "./types.ts";

export interface UserPaths {
  useradd: string;
  userdel: string;
  groupadd: string;
  id: string;
}

export interface UserOptions {
  /** Where `list` reads accounts. @default "/etc/passwd" */
  passwd?: string;
}

/** Accounts the OS and its daemons rely on: never created or deleted here. */
export const RESERVED_USERS: readonly string[] = [
  "root",
  "daemon",
  "bin",
  "sys",
  "sync",
  "games",
  "man",
  "lp",
  "mail",
  "news",
  "uucp",
  "proxy",
  "www-data",
  "backup",
  "list",
  "irc",
  "nobody",
  "nogroup",
  "systemd-network",
  "systemd-resolve",
  "systemd-timesync",
  "messagebus",
  "sshd",
  "_apt",
];

/** login.defs' defaults: regular accounts live in [UID_MIN, UID_MAX]. */
export const UID_MIN = 1000;
export const UID_MAX = 60000;

export const Account = z.object({
  name: z.string(),
  uid: z.number().int(),
  gid: z.number().int(),
  home: z.string(),
  shell: z.string(),
});
export const ListData = z.array(Account);
export const ExistsData = z.object({
  name: z.string(),
  exists: z.boolean(),
  uid: z.number().int().optional(),
});
export const GroupsData = z.object({
  user: z.string(),
  groups: z.array(z.string()),
});

/** A login shell: an absolute path of plain characters. */
const shell = described<string>({
  kind: "text",
  checks: [{
    pattern: "^/[A-Za-z0-9._+/-]{1,254}$",
    message: '%s is not an absolute path to a shell (e.g. "/bin/bash")',
  }],
});

const yesNo = described<"true" | "false">({
  kind: "enum",
  values: ["true", "false"],
});

/** Accounts of a passwd file; malformed lines are skipped. */
export function parsePasswd(text: string): z.infer<typeof ListData> {
  const out: z.infer<typeof ListData> = [];
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f.length < 7 || !f[0]) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({ name: f[0], uid, gid, home: f[5]!, shell: f[6]! });
  }
  return out;
}

function isRegular(uid: number): boolean {
  return uid >= UID_MIN && uid <= UID_MAX;
}

function refuseReserved(action: string, name: string): void {
  if (RESERVED_USERS.includes(name)) {
    throw new ActionError(
      `refused: ${action} ${name} — ${name} is a reserved system account; nothing was run`,
      false,
    );
  }
}

/** shadow's exit codes that no retry can change (bad value, in use, exists). */
const SHADOW_PERMANENT = new Set([2, 3, 4, 6, 8, 9]);

function failed(what: string, r: ExecResult): never {
  throw new ActionError(
    failedRun(what, r),
    r.code === null || !SHADOW_PERMANENT.has(r.code),
    execOutput(r),
  );
}

/** The uid of `name`, or undefined when id(1) knows no such user. */
async function uidOf(
  ctx: ActionContext,
  id: string,
  name: string,
): Promise<number | undefined> {
  const r = await ctx.exec({ argv: [id, "-u", "--", name] }, ctx.signal);
  if (r.code === 0) return Number(r.stdout.trim());
  if (/no such user/i.test(r.stderr)) return undefined;
  return failed(`id -u ${name}`, r);
}

/** Makes the `user` backend (list, exists, create, delete, groups, group_create). */
export function userBackend(
  paths: UserPaths,
  opts: UserOptions = {},
): BackendDef {
  const passwd = opts.passwd ?? "/etc/passwd";
  const name = accountName();
  return {
    name: "user",
    requires: [paths.useradd, paths.userdel, paths.groupadd, paths.id],
    actions: {
      list: defineAction({
        // "true": system accounts (outside UID 1000-60000, root included).
        params: z.strictObject({ system: yesNo.default("false") }),
        data: ListData,
        run: async (p) => {
          const all = parsePasswd(await Deno.readTextFile(passwd));
          const data = all.filter((a) =>
            p.system === "true" ? !isRegular(a.uid) : isRegular(a.uid)
          );
          const output = data.length
            ? data.map((a) => `${a.name}\t${a.uid}\t${a.home}\t${a.shell}`)
              .join("\n")
            : "no accounts";
          return { output, data };
        },
      }),
      exists: defineAction({
        params: z.strictObject({ name }),
        data: ExistsData,
        run: async (p, ctx) => {
          const uid = await uidOf(ctx, paths.id, p.name);
          return {
            output: uid === undefined ? "false" : "true",
            data: uid === undefined
              ? { name: p.name, exists: false }
              : { name: p.name, exists: true, uid },
          };
        },
      }),
      create: defineAction({
        params: z.strictObject({
          name,
          system: yesNo.default("false"),
          uid: intText(1, UID_MAX).optional(),
          shell: shell.default("/usr/sbin/nologin"),
        }),
        run: async (p, ctx) => {
          refuseReserved("create", p.name);
          const argv = [
            paths.useradd,
            ...(p.system === "true" ? ["--system"] : []),
            ...(p.uid !== undefined ? ["--uid", String(p.uid)] : []),
            "--shell",
            p.shell,
            "--",
            p.name,
          ];
          const r = await ctx.exec({ argv }, ctx.signal);
          if (r.code !== 0) failed(`useradd ${p.name}`, r);
          return { output: `created user ${p.name}` };
        },
      }),
      delete: defineAction({
        params: z.strictObject({ name }),
        run: async (p, ctx) => {
          refuseReserved("delete", p.name);
          const uid = await uidOf(ctx, paths.id, p.name);
          if (uid === undefined) {
            throw new ActionError(`user ${p.name} not found`, false);
          }
          if (!isRegular(uid)) {
            throw new ActionError(
              `refused: delete ${p.name} — UID ${uid} is a system account (regular accounts are ${UID_MIN}-${UID_MAX}); nothing was deleted`,
              false,
            );
          }
          // The home directory stays: removing data is a separate decision.
          const r = await ctx.exec(
            { argv: [paths.userdel, "--", p.name] },
            ctx.signal,
          );
          if (r.code !== 0) failed(`userdel ${p.name}`, r);
          return { output: `deleted user ${p.name}` };
        },
      }),
      groups: defineAction({
        params: z.strictObject({ name }),
        data: GroupsData,
        run: async (p, ctx) => {
          const r = await ctx.exec(
            { argv: [paths.id, "-Gn", "--", p.name] },
            ctx.signal,
          );
          if (r.code !== 0) {
            if (/no such user/i.test(r.stderr)) {
              throw new ActionError(`user ${p.name} not found`, false);
            }
            failed(`id -Gn ${p.name}`, r);
          }
          const groups = r.stdout.trim().split(/\s+/).filter((g) => g);
          return {
            output: `${p.name}: ${groups.join(" ")}`,
            data: { user: p.name, groups },
          };
        },
      }),
      group_create: defineAction({
        params: z.strictObject({ name, gid: intText(1, UID_MAX).optional() }),
        run: async (p, ctx) => {
          refuseReserved("group_create", p.name);
          const r = await ctx.exec({
            argv: [
              paths.groupadd,
              ...(p.gid !== undefined ? ["--gid", String(p.gid)] : []),
              "--",
              p.name,
            ],
          }, ctx.signal);
          if (r.code !== 0) failed(`groupadd ${p.name}`, r);
          return { output: `created group ${p.name}` };
        },
      }),
    },
  };
}
