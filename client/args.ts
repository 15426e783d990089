/**
 * Command-line parsing for gridc: turns argv into one typed invocation or a
 * UsageError whose message is a single line. Pure: no environment, no I/O.
 */
import { parseArgs } from "node:util";
import { parseDuration } from "../models/duration.ts";
import { JobStatus, Strategy, Target } from "../models/job.ts";

/** A mistake on the command line or in a job file (exit status 3). */
export class UsageError extends Error {
  override name = "UsageError";
}

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

export type Command =
  | { kind: "help"; topic: Topic }
  | { kind: "version" }
  | {
    kind: "job run";
    source: JobSource;
    target?: Target;
    strategy?: Strategy;
    timeout?: string;
    wait: boolean;
  }
  | { kind: "job get"; id: string; wait: boolean }
  | { kind: "job list"; limit?: number; status?: JobStatus; before?: string }
  | { kind: "job cancel"; id: string }
  | { kind: "node list" }
  | { kind: "node info"; id: string }
  | { kind: "status" };

export interface Invocation {
  /** The -a/--api value, if given (the caller falls back to GRID_API). */
  api?: string;
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
} as const;
type OptionName = keyof typeof OPTIONS;

const GLOBAL: readonly OptionName[] = ["api", "output", "help", "version"];

/** Every command: its extra options and how many positional arguments it takes. */
export const COMMANDS = {
  "job run": {
    options: ["target", "file", "strategy", "timeout", "wait"],
    args: [0, Infinity],
  },
  "job get": { options: ["wait"], args: [1, 1] },
  "job list": { options: ["status", "limit", "before"], args: [0, 0] },
  "job cancel": { options: [], args: [1, 1] },
  "node list": { options: [], args: [0, 0] },
  "node info": { options: [], args: [1, 1] },
  "status": { options: [], args: [0, 0] },
} as const satisfies Record<
  string,
  { options: readonly OptionName[]; args: readonly [number, number] }
>;
export type CommandName = keyof typeof COMMANDS;

const GROUPS = {
  job: ["run", "get", "list", "cancel"],
  node: ["list", "info"],
} as const;

/** What `--help` can be asked about: the tool, a command group, or a command. */
export type Topic = "" | keyof typeof GROUPS | CommandName;

const ARG_NAMES: Partial<Record<CommandName, string>> = {
  "job get": "job ID",
  "job cancel": "job ID",
  "node info": "node ID",
};

const seeHelp = (topic: Topic) =>
  `see 'gridc ${topic ? topic + " " : ""}--help'`;

type Token = ReturnType<typeof parseArgs>["tokens"] extends
  (infer T)[] | undefined ? T
  : never;

/** Parses gridc's argv (without the program name). */
export function parseCli(argv: readonly string[]): Invocation {
  const { tokens = [] } = parseArgs({
    args: [...argv],
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const options = tokens.filter((t) => t.kind === "option");
  const positionals = tokens.flatMap((t) =>
    t.kind === "positional" ? [t.value] : []
  );
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
  if (topic === "" || topic === "job" || topic === "node") {
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

/** Splits the positionals into the command name and its arguments. */
function findCommand(
  positionals: string[],
  groupOk: boolean,
): [Topic, string[]] {
  const [first, second, ...rest] = positionals;
  if (first === undefined) {
    if (groupOk) return ["", []];
    throw new UsageError(
      `missing command: job, node or status (${seeHelp("")})`,
    );
  }
  if (first === "status") return ["status", positionals.slice(1)];
  if (first !== "job" && first !== "node") {
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

type Values = Partial<Record<OptionName, string | true>>;

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
    if (values[name] !== undefined) {
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
    values[name] = t.value;
  }
  return values;
}

const str = (v: string | true | undefined) =>
  typeof v === "string" ? v : undefined;

function globals(values: Values): Omit<Invocation, "command"> {
  const output = str(values.output) ?? "table";
  if (output !== "table" && output !== "json") {
    throw new UsageError(`-o "${output}": use table or json`);
  }
  const api = str(values.api);
  return api === undefined ? { output } : { api, output };
}

function buildCommand(
  name: CommandName,
  values: Values,
  args: string[],
): Command {
  switch (name) {
    case "job run":
      return jobRun(values, args);
    case "job get":
      return { kind: name, id: args[0]!, wait: values.wait === true };
    case "job list":
      return jobList(values);
    case "job cancel":
    case "node info":
      return { kind: name, id: args[0]! };
    case "node list":
    case "status":
      return { kind: name };
  }
}

function jobRun(values: Values, args: string[]): Command {
  const file = str(values.file);
  let source: JobSource;
  if (file !== undefined) {
    if (args.length > 0) {
      throw new UsageError(
        `-f takes the tasks from the file: remove "${args.join(" ")}"`,
      );
    }
    source = { kind: "file", path: file };
  } else {
    const [backend, action, ...pairs] = args;
    if (backend === undefined || action === undefined) {
      throw new UsageError(
        `missing BACKEND and ACTION, or -f FILE (${seeHelp("job run")})`,
      );
    }
    source = { kind: "shorthand", backend, action, params: parseParams(pairs) };
  }
  const cmd: Extract<Command, { kind: "job run" }> = {
    kind: "job run",
    source,
    wait: values.wait === true,
  };
  const target = str(values.target);
  if (target !== undefined) cmd.target = parseTarget(target);
  const strategy = str(values.strategy);
  if (strategy !== undefined) {
    const r = Strategy.safeParse(strategy);
    if (!r.success) {
      throw new UsageError(
        `--strategy "${strategy}": use fail-fast or continue`,
      );
    }
    cmd.strategy = r.data;
  }
  const timeout = str(values.timeout);
  if (timeout !== undefined) {
    if (parseDuration(timeout) === undefined) {
      throw new UsageError(
        `--timeout "${timeout}": not a duration (use e.g. 30s, 5m, 1m30s)`,
      );
    }
    cmd.timeout = timeout;
  }
  return cmd;
}

/** `key=value` arguments to params; the value may itself contain "=". */
export function parseParams(pairs: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (const arg of pairs) {
    const eq = arg.indexOf("=");
    if (eq < 0) throw new UsageError(`argument "${arg}" is not key=value`);
    const key = arg.slice(0, eq);
    if (key === "") throw new UsageError(`argument "${arg}" has an empty key`);
    if (Object.hasOwn(params, key)) {
      throw new UsageError(
        `argument "${arg}": parameter "${key}" is given twice`,
      );
    }
    params[key] = arg.slice(eq + 1);
  }
  return params;
}

/** `all`, `group:NAME` or `node:ID`. */
export function parseTarget(text: string): Target {
  const colon = text.indexOf(":");
  const scope = colon < 0 ? text : text.slice(0, colon);
  if (
    (scope === "all" && colon < 0) ||
    ((scope === "group" || scope === "node") && colon >= 0)
  ) {
    const value = colon < 0 ? undefined : text.slice(colon + 1);
    const r = Target.safeParse(
      value === undefined ? { scope } : { scope, value },
    );
    if (r.success) return r.data;
    const what = scope === "group" ? "group name" : "node id";
    throw new UsageError(`-t "${text}": ${what} ${r.error.issues[0]!.message}`);
  }
  throw new UsageError(`-t "${text}": use all, group:NAME or node:ID`);
}

function jobList(values: Values): Command {
  const cmd: Extract<Command, { kind: "job list" }> = { kind: "job list" };
  const status = str(values.status);
  if (status !== undefined) {
    const r = JobStatus.safeParse(status);
    if (!r.success) {
      throw new UsageError(
        `--status "${status}": use one of ${JobStatus.options.join(", ")}`,
      );
    }
    cmd.status = r.data;
  }
  const limit = str(values.limit);
  if (limit !== undefined) {
    const n = Number(limit);
    if (!/^\d+$/.test(limit) || n < 1) {
      throw new UsageError(
        `--limit "${limit}": must be a whole number of at least 1`,
      );
    }
    cmd.limit = n;
  }
  const before = str(values.before);
  if (before !== undefined) cmd.before = before;
  return cmd;
}
