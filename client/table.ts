/**
 * Plain-text table rendering: aligned columns, one flexible column that
 * takes what is left of the line, truncation with "…", optional ANSI colour.
 * Pure: no I/O, no environment, no clock.
 */

export type Style = "bold" | "dim" | "red" | "green" | "yellow" | "cyan";

const SGR: Record<Style, string> = {
  bold: "1",
  dim: "2",
  red: "31",
  green: "32",
  yellow: "33",
  cyan: "36",
};

/** Wraps text in an ANSI colour when colour is on. */
export function paint(
  text: string,
  style: Style | undefined,
  color: boolean,
): string {
  return color && style && text !== ""
    ? `\x1b[${SGR[style]}m${text}\x1b[0m`
    : text;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]/g;
// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/**
 * Makes remote text safe for one table cell: escape sequences and control
 * characters from a node's output must not move the cursor or recolour the
 * operator's terminal.
 */
export function sanitize(text: string): string {
  return text.replace(ANSI, "").replace(/[\t\r\n]/g, " ").replace(CONTROL, "");
}

/**
 * Makes one line of a node's output safe for a terminal: escape sequences
 * and control characters go, tabs stay.
 */
export function cleanLine(text: string): string {
  return text.replace(ANSI, "").replace(/[^\P{Cc}\t]/gu, "");
}

/** The first line of text that is not blank, trimmed. */
export function firstLine(text: string | undefined): string {
  for (const line of (text ?? "").split(/\r\n|\r|\n/)) {
    const t = line.trim();
    if (t !== "") return t;
  }
  return "";
}

/** Width in terminal columns (one per code point; good enough for ids and logs). */
export function textWidth(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Cuts text to at most `max` columns, marking the cut with "…". */
export function truncate(text: string, max: number): string {
  if (textWidth(text) <= max) return text;
  if (max <= 0) return "";
  return [...text].slice(0, max - 1).join("") + "…";
}

export interface Column {
  header: string;
  /** Takes the width left over on the line (at most one column). */
  flex?: boolean;
  /** Never wider than this. */
  max?: number;
  align?: "left" | "right";
}

export interface Cell {
  text: string;
  style?: Style;
}

export interface TableOptions {
  /** Longest line to produce, in columns. */
  width: number;
  color: boolean;
}

const GAP = "  ";
/** A flexible column keeps at least this many columns, even on a narrow terminal. */
const MIN_FLEX = 12;

/** Renders rows under a header; every line ends with "\n". */
export function renderTable(
  columns: readonly Column[],
  rows: readonly (readonly (string | Cell)[])[],
  opts: TableOptions,
): string {
  const cells: Cell[][] = rows.map((row) =>
    columns.map((_, i) => {
      const c = row[i] ?? "";
      return typeof c === "string"
        ? { text: sanitize(c) }
        : { ...c, text: sanitize(c.text) };
    })
  );
  const widths = columns.map((col, i) =>
    Math.min(
      col.max ?? Infinity,
      Math.max(
        textWidth(col.header),
        ...cells.map((r) => textWidth(r[i]!.text)),
      ),
    )
  );
  const flex = columns.findIndex((c) => c.flex);
  if (flex >= 0) {
    const others = widths.reduce((sum, w, i) => i === flex ? sum : sum + w, 0) +
      GAP.length * (columns.length - 1);
    const room = Math.max(
      MIN_FLEX,
      textWidth(columns[flex]!.header),
      opts.width - others,
    );
    widths[flex] = Math.min(widths[flex]!, room);
  }
  const line = (row: Cell[]) =>
    row.map((cell, i) => {
      const w = widths[i]!;
      const text = truncate(cell.text, w);
      const pad = " ".repeat(w - textWidth(text));
      const right = columns[i]!.align === "right";
      const painted = paint(text, cell.style, opts.color);
      return right ? pad + painted : painted + pad;
    }).join(GAP).trimEnd();
  const header = columns.map((c) => ({
    text: c.header,
    style: "bold" as const,
  }));
  return [header, ...cells].map(line).join("\n") + "\n";
}

/** "Key:  value" lines with the values aligned; values are cut to the width. */
export function renderFields(
  fields: readonly (readonly [string, string | Cell])[],
  opts: TableOptions,
): string {
  const keyWidth = Math.max(0, ...fields.map(([k]) => textWidth(k) + 1));
  return fields.map(([key, value]) => {
    const cell = typeof value === "string" ? { text: value } : value;
    const room = Math.max(MIN_FLEX, opts.width - keyWidth - GAP.length);
    const text = truncate(sanitize(cell.text), room);
    return `${(key === "" ? "" : key + ":").padEnd(keyWidth)}${GAP}${
      paint(text, cell.style, opts.color)
    }`
      .trimEnd();
  }).join("\n") + "\n";
}
