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
  lastStatus?: string;
  terminalSeen: Set<string>;
}
