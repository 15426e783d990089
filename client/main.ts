/**
 * gridc entry point: the only file that touches Deno.args, the environment,
 * the terminal and the exit status. Everything else lives in cli.ts.
 */
import { dirname, join } from "node:path";
import { runCli } from "./cli.ts";
import type { PrivateFile } from "./context.ts";

const encoder = new TextEncoder();

/** Writes all of text; a closed pipe (`gridc job list | head`) silences it. */
function writer(stream: typeof Deno.stdout): (text: string) => void {
  let closed = false;
  return (text) => {
    if (closed) return;
    const bytes = encoder.encode(text);
    try {
      for (let off = 0; off < bytes.length;) {
        off += stream.writeSync(bytes.subarray(off));
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
      closed = true;
    }
  };
}

function columns(): number | undefined {
  try {
    return Deno.consoleSize().columns || undefined;
  } catch {
    return undefined;
  }
}

const env = (name: string) => Deno.env.get(name);

/** The nats-server version of this release (release.json beside gridc), if any. */
function releaseNatsServer(): string | undefined {
  try {
    const file = join(dirname(Deno.execPath()), "release.json");
    const v = JSON.parse(Deno.readTextFileSync(file)).nats_server;
    return typeof v === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A new file only its owner may read; an existing one is an error, never replaced. */
async function createPrivateFile(path: string): Promise<PrivateFile> {
  const f = await Deno.open(path, {
    write: true,
    createNew: true,
    mode: 0o600,
  });
  // The mode is applied through the umask; make sure no one else can read.
  await Deno.chmod(path, 0o600);
  return {
    async write(text) {
      try {
        const bytes = encoder.encode(text);
        for (let off = 0; off < bytes.length;) {
          off += await f.write(bytes.subarray(off));
        }
      } finally {
        f.close();
      }
    },
    async discard() {
      f.close();
      await Deno.remove(path).catch(() => {});
    },
  };
}

/** A fetch that trusts the CA certificates in `pem` besides the system's. */
function fetchTrusting(pem: string): typeof fetch {
  const client = Deno.createHttpClient({ caCerts: [pem] });
  return (input, init) => fetch(input, { ...init, client });
}

/** A line from standard input, without its newline; null if it ends first. */
async function readLine(): Promise<string | null> {
  const decoder = new TextDecoder();
  const buf = new Uint8Array(256);
  let text = "";
  for (;;) {
    const n = await Deno.stdin.read(buf);
    if (n === null) return text === "" ? null : text;
    text += decoder.decode(buf.subarray(0, n), { stream: true });
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl);
  }
}

/** Runs gridc with `args` and exits with its status. */
export async function main(args: string[]): Promise<never> {
  const code = await runCli(args, {
    stdout: writer(Deno.stdout),
    stderr: writer(Deno.stderr),
    readFile: (path) =>
      path === "-"
        ? new Response(Deno.stdin.readable).text()
        : Deno.readTextFile(path),
    createPrivateFile,
    fetchTrusting,
    now: () => Date.now(),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    env: {
      GRID_API: env("GRID_API"),
      GRID_TOKEN: env("GRID_TOKEN"),
      GRID_CA: env("GRID_CA"),
      HOME: env("HOME"),
      XDG_CONFIG_HOME: env("XDG_CONFIG_HOME"),
      NO_COLOR: env("NO_COLOR"),
      TERM: env("TERM"),
      COLUMNS: env("COLUMNS"),
      GRID_LOG_FORMAT: env("GRID_LOG_FORMAT"),
    },
    tty: {
      stdout: Deno.stdout.isTerminal(),
      stderr: Deno.stderr.isTerminal(),
      columns: Deno.stdout.isTerminal() ? columns() : undefined,
      stdin: Deno.stdin.isTerminal(),
    },
    readLine,
    denoVersion: Deno.version.deno,
    natsServerVersion: releaseNatsServer(),
  });
  Deno.exit(code);
}

if (import.meta.main) await main(Deno.args);
