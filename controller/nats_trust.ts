/**
 * The JWTs GRID's NATS runs on, minted from the keys in nats_keys.ts:
 * the operator, the system account, GRID (JetStream; exports what workers
 * need) and WORKERS (no JetStream; imports that), and users: controllers in
 * GRID, each worker in WORKERS with permissions for its own subjects only
 * (lib/access.ts), and a system user that pushes account updates.
 */
import {
  encodeAccount,
  encodeOperator,
  encodeUser,
  fmtCreds,
} from "@nats-io/jwt";
import { Prefix } from "@nats-io/nkeys";
import {
  GRID_EXPORTS,
  workerImports,
  workerPermissions,
} from "../lib/access.ts";
import { type NatsKeys, newKeyPair } from "./nats_keys.ts";

/**
 * Limits spelled out: a JWT minted here gets none of the Go library's
 * defaults, and a missing limit reads as 0 on the server (no connections).
 * JetStream is on for an account whose storage limits are not 0.
 */
const NATS_LIMITS = {
  subs: -1,
  data: -1,
  payload: -1,
  imports: -1,
  exports: -1,
  wildcards: true,
  conn: -1,
  leaf: -1,
};
const JETSTREAM_ON = {
  mem_storage: -1,
  disk_storage: -1,
  streams: -1,
  consumer: -1,
  max_ack_pending: -1,
  mem_max_stream_bytes: -1,
  disk_max_stream_bytes: -1,
  max_bytes_required: false,
};
const JETSTREAM_OFF = {
  mem_storage: 0,
  disk_storage: 0,
  streams: 0,
  consumer: 0,
};

/** What a nats-server needs to trust GRID's operator. */
export interface ServerTrust {
  operatorJwt: string;
  systemAccount: string;
  /** Account JWTs to load at start: system and GRID (never WORKERS, see below). */
  preload: Record<string, string>;
}

export interface MintedUser {
  /** The standard .creds file: JWT and seed. */
  creds: Uint8Array;
  /** The user's public key: what a revocation names. */
  user: string;
}

export class NatsTrust {
  constructor(readonly keys: NatsKeys) {}

  get gridAccount(): string {
    return this.keys.grid.getPublicKey();
  }

  get workersAccount(): string {
    return this.keys.workers.getPublicKey();
  }

  /**
   * WORKERS is left out of the preload: it carries the revocations, and a
   * preload minted in the same second as a pushed update would replace it
   * at the server's next start. The controllers push it instead
   * (enrollment.ts), from the enrollment records.
   */
  async server(): Promise<ServerTrust> {
    const { operator, system, grid } = this.keys;
    const systemAccount = system.getPublicKey();
    return {
      operatorJwt: await encodeOperator("GRID", operator, {
        system_account: systemAccount,
      }),
      systemAccount,
      preload: {
        [systemAccount]: await encodeAccount("SYS", system, {
          limits: NATS_LIMITS,
        }, { signer: operator }),
        [grid.getPublicKey()]: await encodeAccount("GRID", grid, {
          limits: { ...NATS_LIMITS, ...JETSTREAM_ON },
          exports: GRID_EXPORTS.map((e) => ({ ...e })),
        }, { signer: operator }),
      },
    };
  }

  /** WORKERS as it stands: its imports, its signing key, who is revoked. */
  workersAccountJwt(revocations: Record<string, number>): Promise<string> {
    const { operator, workers, workersSigner } = this.keys;
    return encodeAccount("WORKERS", workers, {
      limits: { ...NATS_LIMITS, ...JETSTREAM_OFF },
      imports: workerImports(this.gridAccount),
      signing_keys: [workersSigner.getPublicKey()],
      ...(Object.keys(revocations).length > 0 ? { revocations } : {}),
    }, { signer: operator });
  }

  /** A controller: everything inside GRID. */
  controller(name: string): Promise<MintedUser> {
    return this.#user(name, this.keys.grid, {
      pub: { allow: [">"] },
      sub: { allow: [">"] },
    });
  }

  /** The system user that pushes account updates. */
  system(name: string): Promise<MintedUser> {
    return this.#user(name, this.keys.system, {});
  }

  /** Worker `node`: its own subjects in WORKERS, signed by WORKERS' signing key. */
  worker(node: string): Promise<MintedUser> {
    return this.#user(node, this.keys.workers, workerPermissions(node), true);
  }

  async #user(
    name: string,
    account: NatsKeys["grid"],
    permissions: object,
    bySigner = false,
  ): Promise<MintedUser> {
    const kp = newKeyPair(Prefix.User);
    const jwt = await encodeUser(name, kp, account, permissions, {
      ...(bySigner ? { signer: this.keys.workersSigner } : {}),
    });
    return { creds: fmtCreds(jwt, kp), user: kp.getPublicKey() };
  }
}
