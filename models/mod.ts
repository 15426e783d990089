/** GRID's shared data contracts. Imports nothing but zod. */
export * from "./duration.ts";
export * from "./names.ts";
export * from "./job.ts";
export * from "./node.ts";
export * from "./messages.ts";
export * from "./config.ts";
export * from "./controller.ts";
export * from "./auth.ts";
export * from "./live.ts";
export const VERSION = "0.1.0";
