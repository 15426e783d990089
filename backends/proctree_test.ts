import assert from "node:assert/strict";
import {
  parsePsTree,
  parseStat,
  processTable,
  ProcessTree,
  type ProcInfo,
  readProcs,
  readPs,
} from "./proctree.ts";

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

Deno.test("proctree - an unreadable table is reported as unknown", async () => {
  const tree = new ProcessTree(5, () => Promise.resolve(undefined));
  assert.equal(await tree.refresh(true), undefined);
});

Deno.test("proctree - parses ps lines: state letter, start date with spaces", () => {
  const got = parsePsTree(
    [
      "    1     0     0 S<Ll Tue Dec  1 23:44:58 2026",
      "  100     1   100 Ss   Wed Dec  2 03:00:01 2026  ",
      "  102   101   102 Z    Wed Dec  2 03:00:02 2026",
      "PID PPID PGID STAT STARTED",
      "  7 1 x S Wed Dec  2 03:00:02 2026",
      "",
    ].join("\n"),
  );
  assert.deepEqual([...got.values()], [
    p(1, 0, 0, "Tue Dec 1 23:44:58 2026"),
    p(100, 1, 100, "Wed Dec 2 03:00:01 2026"),
    p(102, 101, 102, "Wed Dec 2 03:00:02 2026", "Z"),
  ]);
});

Deno.test("proctree - ps and /proc list the same tree here", async () => {
  const fromProc = await readProcs();
  const fromPs = await readPs("/usr/bin/ps");
  assert.ok(fromProc && fromPs, "both readable under -A");
  const me = fromPs.get(Deno.pid)!;
  assert.equal(me.ppid, fromProc.get(Deno.pid)!.ppid);
  assert.equal(me.pgrp, fromProc.get(Deno.pid)!.pgrp);
  assert.match(me.start, /^\w{3} \w{3} \d{1,2} \d\d:\d\d:\d\d \d{4}$/);
  assert.equal(await readPs("/nonexistent/ps"), undefined);
  assert.equal(await readPs("/bin/false"), undefined);
});

Deno.test({
  name: "proctree - without /proc the table comes from ps, and stays with it",
  permissions: { read: true, run: ["/usr/bin/ps"] },
  fn: async () => {
    assert.equal(await readProcs(), undefined, "the premise: no /proc");
    const scan = processTable("/usr/bin/ps");
    const first = await scan();
    assert.ok(first, "a table");
    assert.ok(first.has(Deno.pid), "own pid in the ps table");
    // A date, not clock ticks: the source is ps.
    assert.match(first.get(Deno.pid)!.start, /:/);
    const again = await scan();
    assert.equal(again!.get(Deno.pid)!.start, first.get(Deno.pid)!.start);
    assert.equal(await processTable(undefined)(), undefined);
  },
});

Deno.test({
  name: "proctree - ps outside --allow-run is unknown, not an empty table",
  permissions: { read: true, run: ["/bin/true"] },
  fn: async () => {
    assert.equal(await processTable("/usr/bin/ps")(), undefined);
  },
});

Deno.test("proctree - with /proc readable, /proc is the source", async () => {
  const t = await processTable("/nonexistent/ps")();
  assert.ok(t);
  assert.match(t.get(Deno.pid)!.start, /^\d+$/, "clock ticks");
});
