/**
 * A private CA and a certificate it signed for this machine's loopback
 * (127.0.0.1 and localhost), made with the openssl CLI: what the TLS tests
 * of the API and of NATS serve with. nats.js checks an IP URL's
 * certificate against "localhost", hence both names; clientAuth too, since
 * servers present the same certificate to each other on routes.
 */
import { join } from "node:path";

export interface Certs {
  ca: string;
  cert: string;
  key: string;
}

export async function makeCerts(dir: string): Promise<Certs> {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (out.code !== 0) {
      throw new Error(
        `openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
  await run(
    "req",
    "-x509",
    ...ec,
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=grid test CA",
  );
  await run(
    "req",
    ...ec,
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(
    join(dir, "ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n" +
      "extendedKeyUsage=serverAuth,clientAuth\n",
  );
  await run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  );
  return {
    ca: join(dir, "ca.pem"),
    cert: join(dir, "server.pem"),
    key: join(dir, "server.key"),
  };
}
