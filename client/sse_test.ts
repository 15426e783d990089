import assert from "node:assert/strict";
import { readSse } from "./sse.ts";

function body(...chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(ctl) {
      for (const c of chunks) ctl.enqueue(enc.encode(c));
      ctl.close();
    },
  });
}

async function all(stream: ReadableStream<Uint8Array>) {
  const out = [];
  for await (const e of readSse(stream)) out.push(e);
  return out;
}

Deno.test("readSse: events, ids, multi-line data, comments, split chunks", async () => {
  const events = await all(body(
    'retry: 2000\n\n: ping\n\nevent: status\ndata: {"a":',
    "1}\n\nevent: result\r\nid: 7\r\ndata: x\r\ndata: y\r\n\r\n",
    "data: plain\n\n",
  ));
  assert.deepEqual(events, [
    { type: "status", data: '{"a":1}' },
    { type: "result", data: "x\ny", id: "7" },
    { type: "message", data: "plain" },
  ]);
});

Deno.test("readSse: an event cut off before its blank line is never seen", async () => {
  const events = await all(
    body("event: result\nid: 3\ndata: {}\n\nevent: result\nid: 4\ndata: {"),
  );
  assert.deepEqual(events, [{ type: "result", data: "{}", id: "3" }]);
});
