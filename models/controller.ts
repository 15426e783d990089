/** What a controller tells its peers about itself (KV `controllers`). */
import { z } from "zod";

export const ControllerRecord = z.object({
  id: z.string(),
  hostname: z.string(),
  status: z.enum(["online", "offline"]),
  last_seen: z.string(),
  started_at: z.string(),
  version: z.string(),
});
export type ControllerRecord = z.infer<typeof ControllerRecord>;

/** `GET /controllers`: liveness judged by the answering controller, with owned running jobs. */
export const ControllerView = ControllerRecord.extend({
  jobs: z.number().int(),
});
export type ControllerView = z.infer<typeof ControllerView>;
