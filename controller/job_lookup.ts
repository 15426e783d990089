/**
 * A job named by its id or by a unique prefix of it. Ids begin with the
 * time, so jobs made minutes apart share their first characters; a client
 * that shows short ids can still name a job by as much as tells it apart.
 */
import { conflict, notFound } from "./errors.ts";
import type { JobStore, Stored } from "./job_store.ts";

/** How many candidates an ambiguous prefix lists. */
const SHOWN = 10;

export async function findJob(
  store: Pick<JobStore, "load" | "idsWithPrefix">,
  idOrPrefix: string,
): Promise<Stored> {
  const ids = idOrPrefix === ""
    ? []
    : store.idsWithPrefix(idOrPrefix, SHOWN + 1);
  // An exact id is read even when the index has not heard of it yet (a
  // job a peer has just created).
  if (idOrPrefix !== "" && (ids.length === 0 || ids.includes(idOrPrefix))) {
    const exact = await store.load(idOrPrefix);
    if (exact) return exact;
  }
  const only = ids.length === 1 ? await store.load(ids[0]!) : undefined;
  if (only) return only;
  if (ids.length <= 1) throw notFound(`job "${idOrPrefix}" not found`);
  const more = ids.length > SHOWN ? ", …" : "";
  throw conflict(
    `job id "${idOrPrefix}" is ambiguous: it begins ${
      ids.length > SHOWN ? `more than ${SHOWN}` : ids.length
    } jobs (${ids.slice(0, SHOWN).join(", ")}${more}); give more of the id`,
  );
}
