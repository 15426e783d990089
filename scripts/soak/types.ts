/** What the soak keeps about its run: options, processes, faults, jobs. */
import type { Member, Proc } from "../../testing/mod.ts";

export interface Options {
  minutes: number;
  jobsPerSec: number;
  workers: number;
  seed: number;
  faultEvery: [number, number];
  drainSeconds: number;
  drainIdleSeconds: number;
  faults: boolean;
  report: string;
  keepLogs: boolean;
}

export interface Controller extends Member {
  log: Deno.FsFile;
  /** Up and answering: takes submissions, may be a fault's victim. */
  up: boolean;
}

export interface Worker {
  id: string;
  groups: string[];
  log: Deno.FsFile;
  proc?: Proc;
  up: boolean;
  /** How far its wall clock is off (a clock-skew fault); 0: right. */
  skewMs: number;
  /** When it was down (killed, restarting, exited): `to` unset while it is. */
  downs: { from: number; to?: number }[];
}

export interface FaultRecord {
  at: number;
  kind: string;
  target: string;
  detail: string;
  backAfterMs?: number;
  error?: string;
}

export interface TaskStart {
  proc: string;
  at: string;
  line: string;
}

/** One accepted job. */
export interface Sub {
  id: string;
  kind: string;
  expect: string;
  via: string;
  at: number;
  /** The workers its target named when it was submitted. */
  targets: string[];
  lastStatus?: string;
  terminalSeen: Set<string>;
}
