/**
 * INI files as the `config` backend reads and edits them: `[section]`
 * headers, `key = value` lines, `#` and `;` comments. Edits change one
 * line (or add one) and leave every other line as it was, comments and
 * order included.
 *
 * A dotted key names a section and a key: "server.port" is `port` in
 * `[server]`. A key before any header is global; a global key may itself
 * contain dots (sysctl.conf's `net.ipv4.ip_forward`), so the whole key is
 * tried as a global key first, then each split, the longest section first.
 */

const SECTION_RE = /^\s*\[([^\]]*)\]\s*$/;
const ENTRY_RE = /^\s*([^=\s][^=]*?)\s*=\s?(.*)$/;
const COMMENT_RE = /^\s*(?:[#;].*)?$/;

export class IniError extends Error {
  override name = "IniError";
}

interface Line {
  text: string;
  /** The section the line lies in ("" before any header). */
  section: string;
  key?: string;
  value?: string;
  header?: boolean;
}

function parseLines(text: string): Line[] {
  let section = "";
  return text.split("\n").map((raw, i): Line => {
    const s = SECTION_RE.exec(raw);
    if (s) {
      section = s[1]!.trim();
      if (section === "") {
        throw new IniError(`line ${i + 1}: empty section name`);
      }
      return { text: raw, section, header: true };
    }
    if (COMMENT_RE.test(raw)) return { text: raw, section };
    const e = ENTRY_RE.exec(raw);
    if (!e) {
      throw new IniError(
        `line ${i + 1}: expected "[section]", "key = value" or a comment, got ${
          JSON.stringify(raw.slice(0, 80))
        }`,
      );
    }
    return { text: raw, section, key: e[1]!, value: e[2]!.trim() };
  });
}

/** Fails with the first line that is not INI. */
export function validateIni(text: string): void {
  parseLines(text);
}

/** The (section, key) pairs `dotted` may mean, in the order they are tried. */
export function candidates(dotted: string): [string, string][] {
  const out: [string, string][] = [["", dotted]];
  for (
    let i = dotted.lastIndexOf(".");
    i > 0;
    i = dotted.lastIndexOf(".", i - 1)
  ) {
    out.push([dotted.slice(0, i), dotted.slice(i + 1)]);
  }
  return out;
}

function find(lines: Line[], dotted: string): Line | undefined {
  for (const [section, key] of candidates(dotted)) {
    // The last occurrence wins, as most INI readers have it.
    const hit = lines.findLast((l) => l.section === section && l.key === key);
    if (hit) return hit;
  }
  return undefined;
}

/** The value of `dotted`, or undefined when the file has no such key. */
export function getIni(text: string, dotted: string): string | undefined {
  return find(parseLines(text), dotted)?.value;
}

/** `text` with `dotted` set to `value`: one line replaced or added. */
export function setIni(text: string, dotted: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new IniError("a value must be one line");
  const lines = parseLines(text);
  const hit = find(lines, dotted);
  if (hit) {
    const eq = hit.text.indexOf("=");
    const spaced = /=\s/.test(hit.text.slice(eq));
    hit.text = `${hit.text.slice(0, eq + 1)}${spaced ? " " : ""}${value}`;
    return lines.map((l) => l.text).join("\n");
  }
  const dot = dotted.lastIndexOf(".");
  const [section, key] = dot > 0
    ? [dotted.slice(0, dot), dotted.slice(dot + 1)]
    : ["", dotted];
  const entry: Line = { text: `${key} = ${value}`, section, key, value };
  const inSection = lines.flatMap((l, i) =>
    l.section === section && (l.key !== undefined || l.header) ? [i] : []
  );
  if (inSection.length > 0) {
    lines.splice(inSection.at(-1)! + 1, 0, entry);
  } else if (section === "") {
    lines.unshift(entry);
  } else {
    while (lines.length > 0 && lines.at(-1)!.text.trim() === "") lines.pop();
    if (lines.length > 0) lines.push({ text: "", section });
    lines.push({ text: `[${section}]`, section, header: true }, entry);
  }
  const out = lines.map((l) => l.text).join("\n");
  return out.endsWith("\n") ? out : `${out}\n`;
}
