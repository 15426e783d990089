/**
 * Process and cluster helpers for the integration tests, the scenario
 * runner, the soak and the bench: child processes and what /proc says
 * about them (proc.ts), free ports, waits with deadlines, API requests, a
 * one-controller cluster (cluster.ts), and a set of controllers with its
 * workers (controllers.ts on set_procs.ts, configs.ts and jetstream.ts).
 */
export * from "./cluster.ts";
export * from "./configs.ts";
export * from "./controllers.ts";
export * from "./http.ts";
export * from "./jetstream.ts";
export * from "./ports.ts";
export * from "./proc.ts";
export * from "./set_procs.ts";
export * from "./wait.ts";
export * from "./nats.ts";
export * from "./certs.ts";
