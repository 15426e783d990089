/** Free TCP ports on 127.0.0.1 for the servers and APIs a test starts. */

export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * `n` distinct ports free now, below the kernel's ephemeral range: a port
 * from `listen(0)` comes from that range, where any outgoing connection
 * (a worker's, a route's) may take it before the server that is to
 * listen on it starts.
 */
export function freePorts(n: number): number[] {
  let low = 32768;
  try {
    const range = Deno.readTextFileSync(
      "/proc/sys/net/ipv4/ip_local_port_range",
    );
    low = Number(range.trim().split(/\s+/)[0]) || low;
  } catch { /* not Linux: keep the default */ }
  const from = Math.max(1024, Math.min(20_000, low - 4000));
  const out = new Set<number>();
  while (out.size < n) {
    const port = from + Math.floor(Math.random() * (low - from));
    if (out.has(port)) continue;
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      out.add(port);
    } catch { /* taken: pick another */ }
  }
  return [...out];
}
