import assert from "node:assert/strict";
import { configText, type NatsServerOptions } from "./nats_server.ts";

const opts: NatsServerOptions = {
  binary: "/usr/sbin/nats-server",
  host: "127.0.0.1",
  port: 4222,
  storeDir: "/var/lib/grid/jetstream",
  name: "c1",
  trust: {
    operatorJwt: "eyJ.op",
    systemAccount: "ASYS",
    preload: { ASYS: "eyJ.sys", AGRID: "eyJ.grid" },
  },
  routeSecret: "0123456789abcdef0123456789abcdef",
};

Deno.test("configText(): operator mode with the full resolver, system and GRID preloaded", () => {
  const text = configText(opts, "/tmp/x");
  assert.match(text, /^operator: "eyJ\.op"$/m);
  assert.match(text, /^system_account: ASYS$/m);
  assert.match(
    text,
    /resolver: \{\n {2}type: full\n {2}dir: "\/var\/lib\/grid\/jetstream\/accounts"/,
  );
  assert.match(
    text,
    /resolver_preload: \{\n {2}ASYS: "eyJ\.sys"\n {2}AGRID: "eyJ\.grid"\n\}/,
  );
  // No anonymous way in: no `authorization`/`accounts` block of users.
  assert.doesNotMatch(text, /no_auth_user|^authorization/m);
  assert.match(text, /^max_control_line: 16384$/m);
});

Deno.test("configText(): routes need the shared secret; with a CA they verify TLS both ways", () => {
  const text = configText({
    ...opts,
    cluster: {
      name: "grid",
      host: "0.0.0.0",
      port: 6222,
      routes: ["nats://10.0.0.2:6222", "nats-route://10.0.0.3:6222"],
    },
    tls: { cert: "/c.pem", key: "/k.pem", ca: "/ca.pem" },
  }, "/tmp/x");
  const cluster = text.slice(text.indexOf("cluster {"));
  assert.match(
    cluster,
    /authorization \{ user: grid_route, password: "0123456789abcdef0123456789abcdef", timeout: 2 \}/,
  );
  assert.match(
    cluster,
    /routes: \["nats-route:\/\/grid_route:0123456789abcdef0123456789abcdef@10\.0\.0\.2:6222", "nats-route:\/\/grid_route:0123456789abcdef0123456789abcdef@10\.0\.0\.3:6222"\]/,
  );
  assert.match(cluster, /tls \{[^}]*ca_file: "\/ca\.pem"[^}]*verify: true/);
  // Client TLS too, outside the cluster block.
  assert.match(
    text.slice(0, text.indexOf("cluster {")),
    /^tls \{\n {2}cert_file: "\/c\.pem"/m,
  );
});
