import assert from "node:assert/strict";
import { certBackend } from "./cert.ts";
import { runChecked } from "./data_testing.ts";
import { runAction } from "./run.ts";
import { fakeContext, recordingExec } from "./testing.ts";

const DAY = 86_400_000;

async function openssl(cwd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(
      `openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

/** A root, an intermediate and a leaf for svc.test, made by openssl in a temp dir. */
async function withPki(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  try {
    const ca =
      "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
    await Deno.writeTextFile(`${dir}/ca.ext`, ca);
    await Deno.writeTextFile(
      `${dir}/leaf.ext`,
      "basicConstraints=CA:FALSE\nsubjectAltName=DNS:svc.test,IP:127.0.0.1\n",
    );
    for (const name of ["root", "other"]) {
      await openssl(
        dir,
        "req",
        "-x509",
        ...EC,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.pem`,
        "-days",
        "3650",
        "-subj",
        `/CN=Test ${name}`,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      );
    }
    const sign = async (
      name: string,
      cn: string,
      by: string,
      ext: string,
      days: string,
    ) => {
      await openssl(
        dir,
        "req",
        "-new",
        ...EC,
        "-keyout",
        `${name}.key`,
        "-out",
        `${name}.csr`,
        "-subj",
        `/CN=${cn}`,
      );
      await openssl(
        dir,
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        `${by}.pem`,
        "-CAkey",
        `${by}.key`,
        "-set_serial",
        "0x1234abcd",
        "-out",
        `${name}.pem`,
        "-days",
        days,
        "-extfile",
        ext,
      );
    };
    await sign("inter", "Test Inter", "root", "ca.ext", "365");
    await sign("leaf", "svc.test", "inter", "leaf.ext", "30");
    const leaf = await Deno.readTextFile(`${dir}/leaf.pem`);
    const inter = await Deno.readTextFile(`${dir}/inter.pem`);
    await Deno.writeTextFile(`${dir}/chain.pem`, leaf + inter);
    await Deno.writeTextFile(
      `${dir}/with-key.pem`,
      leaf + await Deno.readTextFile(`${dir}/leaf.key`),
    );
    await openssl(
      dir,
      "x509",
      "-in",
      "leaf.pem",
      "-outform",
      "DER",
      "-out",
      "leaf.der",
    );
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function backend(dir: string, later = 0) {
  return certBackend({
    allowedPaths: [dir],
    systemBundles: [`${dir}/root.pem`],
    now: () => Date.now() + later,
  });
}

function run(
  dir: string,
  action: string,
  params: Record<string, string>,
  later = 0,
) {
  const exec = recordingExec();
  return runAction(
    { cert: backend(dir, later) },
    { backend: "cert", action, params },
    fakeContext({ exec }),
  ).then((r) => {
    assert.deepEqual(exec.calls, [], "cert runs no program");
    return r;
  });
}

Deno.test("cert - inspect, expiry and fingerprint of a generated certificate", async () => {
  await withPki(async (dir) => {
    const b = backend(dir);
    const i = (await runChecked(b, "inspect", { path: `${dir}/chain.pem` }))
      .data as Record<string, unknown>;
    assert.equal(i.subject, "CN=svc.test");
    assert.equal(i.issuer, "CN=Test Inter");
    assert.equal(i.serial, "1234abcd");
    assert.deepEqual(i.dns_names, ["svc.test"]);
    assert.deepEqual(i.ip_addresses, ["127.0.0.1"]);
    assert.equal(i.is_ca, false);
    assert.equal(i.expired, false);
    assert.ok(i.days_until_expiry === 29 || i.days_until_expiry === 30);
    assert.match(String(i.not_after), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const der = await runChecked(b, "inspect", { path: `${dir}/leaf.der` });
    assert.deepEqual(
      der.data,
      (await runChecked(b, "inspect", { path: `${dir}/leaf.pem` })).data,
    );
    const want = (await openssl(
      dir,
      "x509",
      "-in",
      "leaf.pem",
      "-noout",
      "-fingerprint",
      "-sha256",
    ))
      .trim().split("=")[1]!.replaceAll(":", "").toLowerCase();
    const fp = await runChecked(b, "fingerprint", { path: `${dir}/leaf.pem` });
    assert.deepEqual(fp.data, {
      path: `${dir}/leaf.pem`,
      algorithm: "sha256",
      fingerprint: want,
    });
    assert.equal(i.fingerprint_sha256, want);
    const md5 = await runChecked(b, "fingerprint", {
      path: `${dir}/leaf.pem`,
      algorithm: "md5",
    });
    assert.match(
      (md5.data as { fingerprint: string }).fingerprint,
      /^[0-9a-f]{32}$/,
    );
    const e = (await runChecked(b, "expiry", {
      path: `${dir}/leaf.pem`,
      min_days: "7",
    })).data as Record<string, unknown>;
    assert.equal(e.expired, false);
    assert.equal(e.not_after, i.not_after);
    assert.equal(e.min_days, 7);
  });
});

Deno.test("cert - expiry fails when expired or within min_days, with the detail as JSON", async () => {
  await withPki(async (dir) => {
    const soon = await run(dir, "expiry", {
      path: `${dir}/leaf.pem`,
      min_days: "45",
    });
    assert.equal(soon.status, "failed");
    assert.match(soon.error!, /expires in (29|30) days .*fewer than 45/);
    assert.equal(JSON.parse(soon.output).expired, false);
    const late = await run(
      dir,
      "expiry",
      { path: `${dir}/leaf.pem` },
      60 * DAY,
    );
    assert.equal(late.status, "failed");
    assert.match(late.error!, /expired on \d{4}-/);
    assert.equal(JSON.parse(late.output).expired, true);
    const inspect = await run(
      dir,
      "inspect",
      { path: `${dir}/leaf.pem` },
      60 * DAY,
    );
    assert.equal(inspect.status, "success", "inspect only reports");
    assert.equal(JSON.parse(inspect.output).expired, true);
  });
});

Deno.test("cert - verify: a chain to the trusted root passes; anything else fails", async () => {
  await withPki(async (dir) => {
    const b = backend(dir);
    const ok = await runChecked(b, "verify", {
      path: `${dir}/chain.pem`,
      ca_path: `${dir}/root.pem`,
    });
    assert.deepEqual(ok.data, {
      path: `${dir}/chain.pem`,
      valid: true,
      chain_count: 3,
      chain: ["CN=svc.test", "CN=Test Inter", "CN=Test root"],
    });
    const system = await runChecked(b, "verify", { path: `${dir}/chain.pem` });
    assert.equal(
      (system.data as { valid: boolean }).valid,
      true,
      "system roots by default",
    );
    const root = await runChecked(b, "verify", { path: `${dir}/root.pem` });
    assert.equal((root.data as { chain_count: number }).chain_count, 1);
    const bad: [Record<string, string>, number, RegExp][] = [
      [
        { path: `${dir}/leaf.pem`, ca_path: `${dir}/root.pem` },
        0,
        /no trusted issuer found for CN=svc\.test \(issuer CN=Test Inter\)/,
      ],
      [
        { path: `${dir}/chain.pem`, ca_path: `${dir}/other.pem` },
        0,
        /no trusted issuer found for CN=Test Inter/,
      ],
      [
        { path: `${dir}/other.pem`, ca_path: `${dir}/root.pem` },
        0,
        /no trusted issuer/,
      ],
      [
        { path: `${dir}/chain.pem`, ca_path: `${dir}/root.pem` },
        60 * DAY,
        /CN=svc\.test has expired/,
      ],
    ];
    for (const [params, later, want] of bad) {
      const r = await run(dir, "verify", params, later);
      assert.equal(r.status, "failed", JSON.stringify(params));
      assert.match(r.error!, want);
      assert.match(r.error!, /^cert verify: .* is not trusted: /);
      const detail = JSON.parse(r.output);
      assert.equal(detail.valid, false);
      assert.equal(typeof detail.error, "string");
    }
  });
});

Deno.test("cert - private keys are refused and never echoed; junk and outside paths fail", async () => {
  await withPki(async (dir) => {
    const key = await Deno.readTextFile(`${dir}/leaf.key`);
    for (const name of ["leaf.key", "with-key.pem"]) {
      const r = await run(dir, "inspect", { path: `${dir}/${name}` });
      assert.equal(
        r.error,
        `refusing to process private key file ${dir}/${name}`,
      );
      assert.ok(!r.output.includes(key.split("\n")[1]!));
    }
    await Deno.writeTextFile(`${dir}/junk.pem`, "hello");
    const junk = await run(dir, "inspect", { path: `${dir}/junk.pem` });
    assert.equal(
      junk.error,
      `no PEM or DER certificate found in ${dir}/junk.pem`,
    );
    const outside = await runAction(
      { cert: certBackend() },
      {
        backend: "cert",
        action: "inspect",
        params: { path: `${dir}/leaf.pem` },
      },
      fakeContext(),
    );
    assert.match(
      outside.error!,
      /^refused: .* is not under any allowed path \[\/etc\/ssl, /,
    );
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        "inspect",
        { path: "leaf.pem" },
        /param "path": must be an absolute path/,
      ],
      ["inspect", { path: `${dir}/../x` }, /param "path"/],
      [
        "verify",
        { path: `${dir}/leaf.pem`, ca_path: "-CAfile" },
        /param "ca_path"/,
      ],
      [
        "fingerprint",
        { path: `${dir}/leaf.pem`, algorithm: "sha1" },
        /param "algorithm"/,
      ],
      [
        "expiry",
        { path: `${dir}/leaf.pem`, min_days: "-1" },
        /param "min_days"/,
      ],
      ["remote", { host: "-connect" }, /param "host"/],
      ["remote", { host: "a b" }, /param "host"/],
      ["remote", { host: "example.com;id" }, /param "host"/],
      ["remote", { host: "localhost", port: "0" }, /param "port"/],
      ["remote", { host: "localhost", port: "65536" }, /param "port"/],
      ["remote", { host: "localhost", timeout: "soon" }, /param "timeout"/],
    ];
    for (const [action, params, want] of cases) {
      const r = await run(dir, action, params);
      assert.equal(r.status, "failed", JSON.stringify(params));
      assert.match(r.error!, want, JSON.stringify(params));
      assert.equal(r.retryable, false);
    }
  });
});

Deno.test("cert - remote reads the certificate a local TLS server shows", async () => {
  await withPki(async (dir) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(`${dir}/chain.pem`),
      key: await Deno.readTextFile(`${dir}/leaf.key`),
      onListen: () => {},
    }, () => new Response("ok"));
    try {
      const b = backend(dir);
      const r = await runChecked(b, "remote", {
        host: "127.0.0.1",
        port: String(server.addr.port),
        timeout: "5s",
      });
      const d = r.data as Record<string, unknown>;
      assert.equal(d.subject, "CN=svc.test");
      assert.equal(d.host, "127.0.0.1");
      assert.equal(d.port, server.addr.port);
      assert.equal(d.trusted, false, "the test root is not a system root");
      assert.equal(typeof d.trust_error, "string");
    } finally {
      await server.shutdown();
    }
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const closed = probe.addr.port;
    probe.close();
    const refused = await run(dir, "remote", {
      host: "127.0.0.1",
      port: String(closed),
      timeout: "5s",
    });
    assert.equal(refused.status, "failed");
    assert.match(
      refused.error!,
      new RegExp(`^cert remote: 127\\.0\\.0\\.1:${closed}: `),
    );
  });
});
