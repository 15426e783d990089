/**
 * A job named by its id or by a unique prefix of it. Ids begin with the
 * time, so jobs made minutes apart share their first characters; a client
 * that shows short ids can still name a job by as much as tells it apart.
 */
import { conflict, notFound } from "./errors.ts";
import type { JobStore, Stored } from "./job_store.ts";

/** How many candidates an ambiguous prefix lists. */
const SHOWN = 10;

export function findJob(
  store: Pick<JobStore, "get" | "idsWithPrefix">,
  idOrPrefix: string,
): Stored {
  const exact = store.get(idOrPrefix);
  if (exact) return exact;
  const ids = idOrPrefix === ""
    ? []
    : store.idsWithPrefix(idOrPrefix, SHOWN + 1);
  if (ids.length === 1) return store.get(ids[0]!)!;
  if (ids.length === 0) throw notFound(`job "${idOrPrefix}" not found`);
  const more = ids.length > SHOWN ? ", …" : "";
  throw conflict(
    `job id "${idOrPrefix}" is ambiguous: it begins ${
      ids.length > SHOWN ? `more than ${SHOWN}` : ids.length
    } jobs (${ids.slice(0, SHOWN).join(", ")}${more}); give more of the id`,
  );
}
