/** Reading bounded request bodies and writing JSON / problem-details responses. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RequestError } from './errors.ts';

/** The whole body, or a `limit` RequestError once it passes `max` octets (the rest is not read). */
export async function readBody(req: IncomingMessage, max: number, limitName: string): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > max) throw new RequestError('limit', `The body is larger than ${max} octets`, { limit: limitName, status: 413 });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new RequestError('limit', `The body is larger than ${max} octets`, { limit: limitName, status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(data.length), 'Cache-Control': 'no-store', ...headers });
  res.end(data);
}

/** An RFC 7807 problem details response. */
export function sendProblem(
  res: ServerResponse,
  status: number,
  type: string,
  detail: string,
  headers: Record<string, string> = {},
  extra: Record<string, unknown> = {},
): void {
  const data = Buffer.from(JSON.stringify({ type, status, detail, ...extra }), 'utf8');
  res.writeHead(status, {
    'Content-Type': 'application/problem+json; charset=utf-8',
    'Content-Length': String(data.length),
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(data);
}

export function sendRequestError(res: ServerResponse, err: RequestError): void {
  const data = Buffer.from(JSON.stringify(err.problem()), 'utf8');
  // Unread body left over (a too large upload): close rather than read it.
  res.writeHead(err.status, {
    'Content-Type': 'application/problem+json; charset=utf-8',
    'Content-Length': String(data.length),
    'Cache-Control': 'no-store',
    ...(err.status === 413 ? { Connection: 'close' } : {}),
  });
  res.end(data);
}
