// Server-Sent Events read from a fetch body (EventSource cannot send the key in a header).
// Follows the WHATWG parsing rules that matter here: CRLF, LF or CR line ends, comments,
// `event:` and multi-line `data:`; a line longer than MAX_LINE ends the stream as an error.

const MAX_LINE = 8 * 1024 * 1024;

/**
 * Yields `{event, data}` for each event of `body` (a ReadableStream of bytes) until it ends.
 * `event` is 'message' when the event names none.
 */
export async function* readEvents(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let event = '';
  let data = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let start = 0;
      for (;;) {
        const end = lineEnd(buf, start);
        if (end < 0) break;
        const line = buf.slice(start, end);
        // A CR at the very end may be the first half of a CRLF still on its way.
        if (buf[end] === '\r' && end + 1 === buf.length) break;
        start = end + (buf[end] === '\r' && buf[end + 1] === '\n' ? 2 : 1);
        if (line === '') {
          if (data.length) yield { event: event || 'message', data: data.join('\n') };
          event = '';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? '' : line.slice(colon + 1);
        if (val.startsWith(' ')) val = val.slice(1);
        if (field === 'event') event = val;
        else if (field === 'data') data.push(val);
      }
      buf = buf.slice(start);
      if (buf.length > MAX_LINE) throw new Error('event stream line too long');
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function lineEnd(buf, from) {
  for (let i = from; i < buf.length; i++) {
    const c = buf.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}
