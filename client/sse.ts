/**
 * Server-Sent Events read from a response body, as the WHATWG spec parses
 * them: `event`, `data` (lines joined by "\n"), `id`; comments and `retry`
 * are dropped; an event is complete at a blank line, so one cut short by a
 * broken connection is never seen.
 */

export interface SseEvent {
  type: string;
  data: string;
  /** The event's id, when it carried one. */
  id?: string;
}

export async function* readSse(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<SseEvent> {
  const dec = new TextDecoder();
  let buf = "";
  let type = "";
  let data: string[] = [];
  let id: string | undefined;
  for await (const chunk of body) {
    buf += dec.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (data.length > 0) {
          yield {
            type: type || "message",
            data: data.join("\n"),
            ...(id === undefined ? {} : { id }),
          };
        }
        type = "";
        data = [];
        id = undefined;
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
      else if (field === "id" && !value.includes("\0")) id = value;
    }
  }
}
