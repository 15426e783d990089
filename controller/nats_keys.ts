/**
 * The keys GRID's NATS trusts: an operator, its system account, the GRID
 * account (JetStream, controllers), the WORKERS account and its signing
 * key (every worker's user), and the shared secret of cluster routes.
 *
 * They live in one file, mode 0600, in `nats.auth.dir`. The first
 * controller to start creates it; every controller of a cluster must hold
 * the same file (copy it), since their servers must trust one operator.
 *
 * Keys sign through node:crypto's Ed25519 rather than @nats-io/nkeys'
 * pure-JS one: that re-derives the key pair on every call, ~100 ms per user
 * JWT under Deno, against well under 1 ms here. Seeds, public keys and
 * signatures are the same bytes either way.
 */
import {
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { fromSeed, type KeyPair, Prefix } from "@nats-io/nkeys";
import { Codec } from "@nats-io/nkeys/lib/codec.js";
import { z } from "zod";

/** DER header of a PKCS#8 Ed25519 private key; the 32-byte seed follows. */
const PKCS8_ED25519 = new Uint8Array([
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x70,
  0x04,
  0x22,
  0x04,
  0x20,
]);
const decoder = new TextDecoder();

class FastKeyPair implements KeyPair {
  #priv: KeyObject;
  #pub: string;
  #seed: Uint8Array;

  constructor(prefix: Prefix, rawSeed: Uint8Array) {
    const der = new Uint8Array(PKCS8_ED25519.length + 32);
    der.set(PKCS8_ED25519);
    der.set(rawSeed, PKCS8_ED25519.length);
    this.#priv = createPrivateKey({
      key: Buffer.from(der),
      format: "der",
      type: "pkcs8",
    });
    const spki = createPublicKey(this.#priv).export({
      format: "der",
      type: "spki",
    }) as Uint8Array;
    this.#pub = decoder.decode(Codec.encode(prefix, spki.slice(-32)));
    this.#seed = Codec.encodeSeed(prefix, rawSeed);
  }

  getPublicKey(): string {
    return this.#pub;
  }
  getPrivateKey(): Uint8Array {
    return this.#seed;
  }
  getSeed(): Uint8Array {
    return this.#seed;
  }
  sign(input: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, input, this.#priv));
  }
  verify(input: Uint8Array, sig: Uint8Array): boolean {
    return verify(null, input, createPublicKey(this.#priv), sig);
  }
  clear(): void {
    this.#seed.fill(0);
  }
  seal(): Uint8Array {
    throw new Error("not supported: sealing is for curve keys");
  }
  open(): Uint8Array | null {
    throw new Error("not supported: opening is for curve keys");
  }
  getRawSeed(): Uint8Array {
    return Codec.decodeSeed(this.#seed).buf;
  }
}

/** A new key pair of the given kind. */
export function newKeyPair(prefix: Prefix): KeyPair {
  return new FastKeyPair(prefix, crypto.getRandomValues(new Uint8Array(32)));
}

/** The key pair of an encoded seed ("SO…", "SA…", "SU…"). */
export function keyPairOf(seed: string): KeyPair {
  fromSeed(new TextEncoder().encode(seed)); // checks the checksum and kind
  const { prefix, buf } = Codec.decodeSeed(new TextEncoder().encode(seed));
  return new FastKeyPair(prefix as Prefix, buf);
}

const Seed = (kind: string, first: string) =>
  z.string().regex(
    new RegExp(`^S${first}[A-Z2-7]{56}$`),
    `must be an nkey ${kind} seed`,
  );

const KeyFile = z.object({
  operator: Seed("operator", "O"),
  system: Seed("account", "A"),
  grid: Seed("account", "A"),
  workers: Seed("account", "A"),
  workers_signer: Seed("account", "A"),
  /** Password of cluster routes: operator mode does not cover routes. */
  route_secret: z.string().regex(/^[0-9a-f]{32,}$/),
}).strict();

export interface NatsKeys {
  operator: KeyPair;
  system: KeyPair;
  grid: KeyPair;
  workers: KeyPair;
  workersSigner: KeyPair;
  routeSecret: string;
  /** Where they were read from. */
  file: string;
}

export const KEY_FILE = "nats-keys.json";

export class NatsKeysError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NatsKeysError";
  }
}

/**
 * Reads the keys from `dir`, creating them first when there are none. The
 * file appears at once, complete, and never replaces another, so
 * controllers that share the directory and start together end up with one
 * set.
 */
export async function loadOrCreateKeys(dir: string): Promise<NatsKeys> {
  const file = join(dir, KEY_FILE);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const seed = (p: Prefix) => decoder.decode(newKeyPair(p).getSeed());
    const fresh: z.infer<typeof KeyFile> = {
      operator: seed(Prefix.Operator),
      system: seed(Prefix.Account),
      grid: seed(Prefix.Account),
      workers: seed(Prefix.Account),
      workers_signer: seed(Prefix.Account),
      route_secret: [...crypto.getRandomValues(new Uint8Array(24))]
        .map((b) => b.toString(16).padStart(2, "0")).join(""),
    };
    // Written whole beside it, then linked into place: a link never
    // replaces a file, and a controller starting at the same moment reads
    // either no file or a complete one, never a half-written one.
    const tmp = await Deno.makeTempFile({ dir, prefix: ".keys-" });
    try {
      await Deno.chmod(tmp, 0o600);
      await Deno.writeTextFile(tmp, JSON.stringify(fresh, null, 2));
      await Deno.link(tmp, file);
    } finally {
      await Deno.remove(tmp).catch(() => {});
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) {
      throw new NatsKeysError(
        `nats.auth.dir: cannot create ${file}: ${(e as Error).message}`,
      );
    }
  }
  return await readKeys(file);
}

async function readKeys(file: string): Promise<NatsKeys> {
  let parsed;
  try {
    parsed = KeyFile.safeParse(JSON.parse(await Deno.readTextFile(file)));
  } catch (e) {
    throw new NatsKeysError(`${file}: ${(e as Error).message}`);
  }
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) =>
      `${i.path.join(".") || "(file)"}: ${i.message}`
    ).join("; ");
    throw new NatsKeysError(`${file}: not a GRID NATS key file: ${where}`);
  }
  const k = parsed.data;
  return {
    operator: keyPairOf(k.operator),
    system: keyPairOf(k.system),
    grid: keyPairOf(k.grid),
    workers: keyPairOf(k.workers),
    workersSigner: keyPairOf(k.workers_signer),
    routeSecret: k.route_secret,
    file,
  };
}
