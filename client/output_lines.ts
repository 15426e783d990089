/**
 * Running tasks' output (`output` events) as lines: chunks joined and cut
 * at newlines, since a chunk may end mid-line, each line prefixed with its
 * node (and step), the node's name coloured on a terminal. Pure: the
 * caller prints what it answers.
 */
import type { LiveOutput } from "../models/live.ts";
import { cleanLine, textWidth } from "./table.ts";

export interface OutputLinesOptions {
  /** Colour the node names. */
  color: boolean;
  /** Strip escape sequences and control characters (output to a terminal). */
  clean: boolean;
  /** Put the step in the prefix: the job has more than one to tell apart. */
  steps: boolean;
  /** The job's nodes: prefixes aligned, and each its own colour. */
  nodes?: readonly string[];
}

/** Node colours (SGR): none of them red, which says "failed" elsewhere. */
const PALETTE = ["36", "33", "35", "32", "34", "96", "93", "95", "92", "94"];

/** The key an attempt's unfinished line is kept under. */
const keyOf = (o: LiveOutput) => `${o.step}\u0000${o.node}\u0000${o.attempt}`;

export class OutputLines {
  readonly #opts: OutputLinesOptions;
  #nodes: string[] = [];
  #width = 0;
  /** Text after an attempt's last newline, waiting for the rest of its line. */
  #partial = new Map<string, { o: LiveOutput; text: string }>();

  constructor(opts: OutputLinesOptions) {
    this.#opts = opts;
    this.setNodes(opts.nodes ?? []);
  }

  /** The job's nodes once known (a pending job has none yet). */
  setNodes(nodes: readonly string[]): void {
    this.#nodes = [...nodes].sort();
    this.#width = Math.max(0, ...this.#nodes.map(textWidth));
  }

  /** The lines `o` completes, each ending in "\n" ("" when none). */
  push(o: LiveOutput): string {
    const key = keyOf(o);
    let out = "";
    // A retry has begun: the earlier attempt's unfinished line is all there is.
    for (const [k, p] of this.#partial) {
      if (k !== key && p.o.step === o.step && p.o.node === o.node) {
        out += this.#take(k);
      }
    }
    if (o.skipped !== undefined) {
      // What came before the gap is a line of its own.
      const n = o.skipped;
      return out + this.#take(key) +
        this.#line(o, `… ${n} line${n === 1 ? "" : "s"} skipped`, true);
    }
    const lines = ((this.#partial.get(key)?.text ?? "") + o.text).split("\n");
    const rest = lines.pop()!;
    for (const line of lines) out += this.#line(o, line);
    if (rest === "") this.#partial.delete(key);
    else this.#partial.set(key, { o, text: rest });
    return out;
  }

  /** Unfinished lines printed as they are: of one step on one node, or all. */
  flush(only?: { step: number; node: string }): string {
    let out = "";
    for (const [k, p] of this.#partial) {
      if (only && (p.o.step !== only.step || p.o.node !== only.node)) continue;
      out += this.#take(k);
    }
    return out;
  }

  #take(key: string): string {
    const p = this.#partial.get(key);
    if (!p) return "";
    this.#partial.delete(key);
    return this.#line(p.o, p.text);
  }

  #line(o: LiveOutput, text: string, marker = false): string {
    const line = text.endsWith("\r") ? text.slice(0, -1) : text;
    const shown = this.#opts.clean ? cleanLine(line) : line;
    const body = marker
      ? this.#paint(`${shown} (the result has them)`, "2")
      : shown;
    return `${this.prefix(o)} | ${body}\n`;
  }

  /** `[STEP] NODE`, padded to the longest node name. */
  prefix(o: Pick<LiveOutput, "step" | "node" | "attempt">): string {
    const name = o.attempt > 1 ? `${o.node} (attempt ${o.attempt})` : o.node;
    const shown = this.#opts.clean ? cleanLine(name) : name;
    const pad = " ".repeat(Math.max(0, this.#width - textWidth(shown)));
    const step = this.#opts.steps ? `[${o.step}] ` : "";
    return step + this.#paint(shown, this.colorOf(o.node)) + pad;
  }

  /** A node's colour: by its place among the job's nodes, else by its name. */
  colorOf(node: string): string {
    const i = this.#nodes.indexOf(node);
    if (i >= 0) return PALETTE[i % PALETTE.length]!;
    let h = 2166136261;
    for (let j = 0; j < node.length; j++) {
      h = Math.imul(h ^ node.charCodeAt(j), 16777619);
    }
    return PALETTE[(h >>> 0) % PALETTE.length]!;
  }

  #paint(text: string, sgr: string): string {
    return this.#opts.color && text !== ""
      ? `\x1b[${sgr}m${text}\x1b[0m`
      : text;
  }
}
