/**
 * Command-line parsing for gridc: turns argv into one typed invocation or a
 * UsageError whose message is a single line. Pure: no environment, no I/O.
 */
import { parseArgs } from "node:util";
import type { TokenScope } from "../models/auth.ts";
import type { JobStatus, Strategy, Target } from "../models/job.ts";
import { jobList, jobLogs, jobPlan, jobRun } from "./args_job.ts";
import { ROLLOUT_OPTION_NAMES, ROLLOUT_OPTIONS } from "./args_job.ts";
import type { RolloutFlags } from "./args_job.ts";
import { audit, nodeEnroll, tokenCreate } from "./args_admin.ts";
import { seeHelp, str, UsageError, type Values } from "./usage.ts";

export { UsageError };
export { parseParams, parseTarget } from "./args_job.ts";

export type Output = "table" | "json";

/** Where `job run` gets its tasks from. */
export type JobSource =
  | { kind: "file"; path: string }
  | {
    kind: "shorthand";
    backend: string;
    action: string;
    params: Record<string, string>;
  };

/** The job `job run` and `job plan` take, and what the flags override. */
interface JobFields {
  source: JobSource;
  target?: Target;
  strategy?: Strategy;
  timeout?: string;
  rollout?: RolloutFlags;
}

export type Command =
  | { kind: "help"; topic: Topic }
  | { kind: "version" }
  | JobFields & {
    kind: "job run";
    wait: boolean;
    /** Show the plan and ask before submitting; `yes`: without asking. */
    confirm?: boolean;
    yes?: boolean;
  }
  | JobFields & { kind: "job plan" }
  | { kind: "job get"; id: string; wait: boolean }
  | {
    kind: "job logs";
    id: string;
    follow: boolean;
    step?: number;
    node?: string;
  }
  | { kind: "job list"; limit?: number; status?: JobStatus; before?: string }
  | { kind: "job cancel"; id: string }
  | { kind: "job resume"; id: string }
  | { kind: "node list" }
  | { kind: "node info"; id: string }
  | {
    kind: "node enroll";
    id: string;
    groups: string[];
    labels?: Record<string, string>;
    out?: string;
  }
  | { kind: "node revoke"; id: string }
  | { kind: "backend list" }
  | { kind: "backend describe"; name: string }
  | { kind: "token create"; name: string; scope: TokenScope; ttl?: string }
  | { kind: "token list" }
  | { kind: "token revoke"; name: string }
  | { kind: "audit"; limit?: number; before?: number }
  | { kind: "controllers" }
  | { kind: "status" };

export interface Invocation {
  /** The -a/--api value, if given (the caller falls back to GRID_API). */
  api?: string;
  /** --token, if given (the caller falls back to GRID_TOKEN, then tokens.json). */
  token?: string;
  /** --ca, if given (the caller falls back to GRID_CA). */
  ca?: string;
  output: Output;
  command: Command;
}

const OPTIONS = {
  api: { type: "string", short: "a" },
  output: { type: "string", short: "o" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  target: { type: "string", short: "t" },
  file: { type: "string", short: "f" },
  strategy: { type: "string", short: "s" },
  timeout: { type: "string" },
  wait: { type: "boolean", short: "w" },
  status: { type: "string" },
  limit: { type: "string", short: "n" },
  before: { type: "string" },
  token: { type: "string" },
  ca: { type: "string" },
  scope: { type: "string" },
  ttl: { type: "string" },
  groups: { type: "string", short: "g" },
  out: { type: "string" },
  follow: { type: "boolean" },
  node: { type: "string" },
  step: { type: "string" },
  selector: { type: "string" },
  confirm: { type: "boolean" },
  yes: { type: "boolean", short: "y" },
  label: { type: "string", short: "l" },
  ...ROLLOUT_OPTIONS,
} as const;
type OptionName = keyof typeof OPTIONS;

/** Options that may be given more than once; their values join with ",". */
const REPEATABLE: ReadonlySet<OptionName> = new Set(["label"]);

/** `job logs -f` is --follow, as in `tail -f`; there is no job file there. */
const LOGS_OPTIONS = {
  ...OPTIONS,
  file: { type: "string" },
  follow: { type: "boolean", short: "f" },
} as const;

const GLOBAL: readonly OptionName[] = [
  "api",
  "output",
  "help",
  "version",
  "token",
  "ca",
];

const JOB_OPTIONS = [
  "target",
  "selector",
  "file",
  "strategy",
  "timeout",
  ...ROLLOUT_OPTION_NAMES,
] as const satisfies readonly OptionName[];

/** Every command: its extra options and how many positional arguments it takes. */
export const COMMANDS = {
  "job run": {
    options: [...JOB_OPTIONS, "wait", "confirm", "yes"],
    args: [0, Infinity],
  },
  "job plan": { options: JOB_OPTIONS, args: [0, Infinity] },
  "job get": { options: ["wait"], args: [1, 1] },
  "job logs": { options: ["follow", "node", "step"], args: [1, 1] },
  "job list": { options: ["status", "limit", "before"], args: [0, 0] },
  "job cancel": { options: [], args: [1, 1] },
  "job resume": { options: [], args: [1, 1] },
  "node list": { options: [], args: [0, 0] },
  "node info": { options: [], args: [1, 1] },
  "node enroll": { options: ["groups", "label", "out"], args: [1, 1] },
  "node revoke": { options: [], args: [1, 1] },
  "backend list": { options: [], args: [0, 0] },
  "backend describe": { options: [], args: [1, 1] },
  "token create": { options: ["scope", "ttl"], args: [1, 1] },
  "token list": { options: [], args: [0, 0] },
  "token revoke": { options: [], args: [1, 1] },
  "audit": { options: ["limit", "before"], args: [0, 0] },
  "controllers": { options: [], args: [0, 0] },
  "status": { options: [], args: [0, 0] },
} as const satisfies Record<
  string,
  { options: readonly OptionName[]; args: readonly [number, number] }
>;
export type CommandName = keyof typeof COMMANDS;

const GROUPS = {
  job: ["run", "plan", "get", "logs", "list", "cancel", "resume"],
  node: ["list", "info", "enroll", "revoke"],
  backend: ["list", "describe"],
  token: ["create", "list", "revoke"],
} as const;
type Group = keyof typeof GROUPS;
const isGroup = (s: string | undefined): s is Group =>
  s !== undefined && Object.hasOwn(GROUPS, s);

/** Commands that are one word. */
const SINGLE = ["status", "audit", "controllers"] as const;

/** What `--help` can be asked about: the tool, a command group, or a command. */
export type Topic = "" | Group | CommandName;

const ARG_NAMES: Partial<Record<CommandName, string>> = {
  "job get": "job ID",
  "job logs": "job ID",
  "job cancel": "job ID",
  "job resume": "job ID",
  "node info": "node ID",
  "node enroll": "node ID",
  "node revoke": "node ID",
  "backend describe": "backend NAME",
  "token create": "token NAME",
  "token revoke": "token NAME",
};

type Token = ReturnType<typeof parseArgs>["tokens"] extends
  (infer T)[] | undefined ? T
  : never;

/** Parses gridc's argv (without the program name). */
export function parseCli(argv: readonly string[]): Invocation {
  let { options, positionals } = tokenize(argv, OPTIONS);
  if (positionals[0] === "job" && positionals[1] === "logs") {
    ({ options, positionals } = tokenize(argv, LOGS_OPTIONS));
  }
  const has = (name: OptionName) => options.some((t) => t.name === name);

  if (positionals[0] === "help") {
    // `gridc help job run` is `gridc job run --help`.
    return {
      output: "table",
      command: {
        kind: "help",
        topic: findCommand(positionals.slice(1), true)[0],
      },
    };
  }
  const [topic, args] = findCommand(positionals, has("help") || has("version"));
  if (has("help")) return { output: "table", command: { kind: "help", topic } };
  if (has("version")) {
    const values = checkOptions(options, GLOBAL, topic);
    return { ...globals(values), command: { kind: "version" } };
  }
  if (topic === "" || isGroup(topic)) {
    // findCommand only returns a group when help or version was asked for.
    throw new UsageError(`missing command (${seeHelp(topic)})`);
  }
  const spec = COMMANDS[topic];
  const values = checkOptions(options, [...GLOBAL, ...spec.options], topic);
  const [min, max] = spec.args;
  if (args.length < min) {
    throw new UsageError(
      `missing ${ARG_NAMES[topic] ?? "argument"} (${seeHelp(topic)})`,
    );
  }
  if (args.length > max) {
    throw new UsageError(
      `unexpected argument "${args[max]}" (${seeHelp(topic)})`,
    );
  }
  return { ...globals(values), command: buildCommand(topic, values, args) };
}

function tokenize(
  argv: readonly string[],
  table: typeof OPTIONS | typeof LOGS_OPTIONS,
) {
  const { tokens = [] } = parseArgs({
    args: [...argv],
    options: table,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  return {
    options: tokens.filter((t) => t.kind === "option"),
    positionals: tokens.flatMap((t) =>
      t.kind === "positional" ? [t.value] : []
    ),
  };
}

/** Splits the positionals into the command name and its arguments. */
function findCommand(
  positionals: string[],
  groupOk: boolean,
): [Topic, string[]] {
  const [first, second, ...rest] = positionals;
  if (first === undefined) {
    if (groupOk) return ["", []];
    throw new UsageError(
      `missing command: job, node, token, audit, controllers or status (${
        seeHelp("")
      })`,
    );
  }
  const single = SINGLE.find((c) => c === first);
  if (single) return [single, positionals.slice(1)];
  if (!isGroup(first)) {
    throw new UsageError(`unknown command "${first}" (${seeHelp("")})`);
  }
  const subs: readonly string[] = GROUPS[first];
  if (second === undefined) {
    if (groupOk) return [first, []];
    throw new UsageError(
      `missing ${first} command: ${subs.join(", ")} (${seeHelp(first)})`,
    );
  }
  if (!subs.includes(second)) {
    throw new UsageError(
      `unknown command "${first} ${second}" (${seeHelp(first)})`,
    );
  }
  return [`${first} ${second}` as CommandName, rest];
}

/** Rejects options the command does not take, repeats, and missing or stray values. */
function checkOptions(
  tokens: Extract<Token, { kind: "option" }>[],
  allowed: readonly OptionName[],
  topic: Topic,
): Values {
  const values: Values = {};
  for (const t of tokens) {
    const name = t.name as OptionName;
    if (!allowed.includes(name)) {
      const where = topic ? ` for "${topic}"` : "";
      throw new UsageError(
        `unknown option ${t.rawName}${where} (${seeHelp(topic)})`,
      );
    }
    const again = values[name] !== undefined;
    if (again && !REPEATABLE.has(name)) {
      throw new UsageError(`option ${t.rawName} is given more than once`);
    }
    if (OPTIONS[name].type === "boolean") {
      if (t.value !== undefined) {
        throw new UsageError(`option ${t.rawName} does not take a value`);
      }
      values[name] = true;
      continue;
    }
    // parseArgs happily takes the next flag as the value: "-t -w" ("-" alone is stdin).
    if (
      t.value === undefined ||
      (!t.inlineValue && t.value.startsWith("-") && t.value !== "-")
    ) {
      throw new UsageError(`option ${t.rawName} needs a value`);
    }
    values[name] = again ? `${values[name]},${t.value}` : t.value;
  }
  return values;
}

function globals(values: Values): Omit<Invocation, "command"> {
  const output = str(values.output) ?? "table";
  if (output !== "table" && output !== "json") {
    throw new UsageError(`-o "${output}": use table or json`);
  }
  const out: Omit<Invocation, "command"> = { output };
  for (const key of ["api", "token", "ca"] as const) {
    const v = str(values[key]);
    if (v !== undefined) out[key] = v;
  }
  if (out.token !== undefined && out.token.trim() === "") {
    throw new UsageError("--token: must not be empty");
  }
  return out;
}

function buildCommand(
  name: CommandName,
  values: Values,
  args: string[],
): Command {
  switch (name) {
    case "job run":
      return jobRun(values, args);
    case "job plan":
      return jobPlan(values, args);
    case "job get":
      return { kind: name, id: args[0]!, wait: values.wait === true };
    case "job logs":
      return jobLogs(values, args[0]!);
    case "job list":
      return jobList(values);
    case "job cancel":
    case "job resume":
    case "node info":
    case "node revoke":
      return { kind: name, id: args[0]! };
    case "node enroll":
      return nodeEnroll(values, args[0]!);
    case "token create":
      return tokenCreate(values, args[0]!);
    case "token revoke":
    case "backend describe":
      return { kind: name, name: args[0]! };
    case "audit":
      return audit(values);
    case "node list":
    case "backend list":
    case "token list":
    case "controllers":
    case "status":
      return { kind: name };
  }
}
