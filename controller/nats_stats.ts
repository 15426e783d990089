/**
 * `GET /nats`: the stats of the nats-server this controller runs, read from
 * its monitoring endpoint on loopback, under the keys the reference's API
 * uses (its dashboard shows them for a controller).
 */
export const NATS_STATS_KEYS = [
  "server_id",
  "server_name",
  "version",
  "uptime",
  "mem",
  "cpu",
  "cores",
  "connections",
  "total_connections",
  "routes",
  "subscriptions",
  "slow_consumers",
  "in_msgs",
  "out_msgs",
  "in_bytes",
  "out_bytes",
  "jetstream",
] as const;

export type NatsStats = Record<string, unknown>;

/** Reads `/varz` at `monitorUrl` and keeps the reference's keys. */
export async function varzStats(
  monitorUrl: string,
  fetchFn: typeof fetch = fetch,
): Promise<NatsStats> {
  const r = await fetchFn(`${monitorUrl}/varz`, {
    signal: AbortSignal.timeout(2000),
  });
  if (!r.ok) throw new Error(`nats-server monitoring answered ${r.status}`);
  const v = await r.json() as Record<string, unknown>;
  return Object.fromEntries(
    NATS_STATS_KEYS.filter((k) => k in v).map((k) => [k, v[k]]),
  );
}
