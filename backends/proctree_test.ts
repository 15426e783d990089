import assert from "node:assert/strict";
import { parseStat, ProcessTree, type ProcInfo } from "./proctree.ts";

function stat(pid: number, comm: string, rest: string): string {
  return `${pid} (${comm}) ${rest}`;
}
// state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
// utime stime cutime cstime priority nice threads itreal starttime ...
const tail = (state: string, ppid: number, pgrp: number, start: number) =>
  `${state} ${ppid} ${pgrp} 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 ${start} 0 0`;

Deno.test("proctree - parses stat lines, even with odd command names", () => {
  assert.deepEqual(parseStat(stat(42, "a) (b", tail("S", 7, 42, 999))), {
    pid: 42,
    ppid: 7,
    pgrp: 42,
    state: "S",
    start: "999",
  });
  assert.equal(parseStat("garbage"), undefined);
});

function table(rows: ProcInfo[]): Map<number, ProcInfo> {
  return new Map(rows.map((r) => [r.pid, r]));
}
const p = (
  pid: number,
  ppid: number,
  pgrp: number,
  start = "1",
  state = "S",
) => ({
  pid,
  ppid,
  pgrp,
  start,
  state,
});

Deno.test("proctree - tracks the group and descendants that left it", async () => {
  let procs = table([
    p(1, 0, 1),
    p(100, 1, 100), // root, leads group 100
    p(101, 100, 100), // child in the group
    p(102, 101, 102), // grandchild that called setsid()
    p(200, 1, 200), // a stranger
  ]);
  const tree = new ProcessTree(100, () => Promise.resolve(procs));
  const first = await tree.refresh(true);
  assert.deepEqual(first!.map((x) => x.pid).sort(), [100, 101, 102]);

  // The root and child die; the grandchild is re-parented to init but is
  // still remembered. pid 101 is reused by a stranger (different start).
  procs = table([
    p(1, 0, 1),
    p(100, 1, 100, "1", "Z"),
    p(101, 1, 101, "2"),
    p(102, 1, 102),
    p(200, 1, 200),
  ]);
  const second = await tree.refresh(false);
  assert.deepEqual(second!.map((x) => x.pid), [102]);
});

Deno.test("proctree - unreadable /proc is reported as unknown", async () => {
  const tree = new ProcessTree(5, () => Promise.resolve(undefined));
  assert.equal(await tree.refresh(true), undefined);
});
