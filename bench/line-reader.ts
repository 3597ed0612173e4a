/** Reading the benchmarks' own minimal clients' input: CRLF lines and SMTP replies off a socket. */
import type net from 'node:net';

/** Splits what the socket receives into CRLF lines (latin1) and passes each batch of complete lines on. */
export function onLines(socket: net.Socket, handle: (lines: string[]) => void): void {
  let partial = '';
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    const text = partial + d;
    const last = text.lastIndexOf('\r\n');
    if (last < 0) {
      partial = text;
      return;
    }
    partial = text.slice(last + 2);
    handle(text.slice(0, last).split('\r\n'));
  });
}

/** Returns a function that resolves with the socket's next complete SMTP reply (all its lines). */
export function smtpReplies(socket: net.Socket): () => Promise<string> {
  socket.setEncoding('latin1');
  let buffer = '';
  let wake: (() => void) | null = null;
  socket.on('data', (d: string) => {
    buffer += d;
    wake?.();
  });
  return async () => {
    for (;;) {
      const m = /(^|\r\n)(\d{3}) [^\r\n]*\r\n/.exec(buffer);
      if (m) {
        const end = m.index + m[0].length;
        const text = buffer.slice(0, end);
        buffer = buffer.slice(end);
        return text;
      }
      await new Promise<void>((r) => (wake = r));
    }
  };
}
