/**
 * The JMAP API endpoint (RFC 8620 §3): the request envelope, back-references, dispatch to the
 * methods, and the errors of §3.6. Nothing a client sends makes it throw: a request that is
 * not a JMAP request is a request-level error (problem details, §3.6.1), a bad method call a
 * method-level error in its place in the response (§3.6.2), and an unexpected failure inside
 * a method `serverFail` (logged), after which the next calls still run.
 */
import type { Logger } from '#core/log.ts';
import { MethodError, RequestError } from './errors.ts';
import type { CoreLimits } from './limits.ts';
import { resolveReferences, type Invocation } from './result-reference.ts';

export interface MethodContext {
  user: string;
  accountId: string;
  /** Creation ids of this request → server ids (RFC 8620 §3.3, §5.3 `#creationId`). */
  createdIds: Map<string, string>;
  log: Logger;
  /** The client's address (Received: of a submission); absent where unknown. */
  clientAddress?: string;
}

const FOLLOW_UPS = Symbol('followUps');

/**
 * A method result followed by further responses under the same call id (RFC 8620 §3.4: one
 * call may answer with several, e.g. EmailSubmission/set's implicit Email/set, RFC 8621 §7.5).
 */
export function withFollowUps(result: Record<string, unknown>, followUps: Array<[string, Record<string, unknown>]>): Record<string, unknown> {
  return Object.assign(result, { [FOLLOW_UPS]: followUps });
}

function followUpsOf(result: Record<string, unknown>): Array<[string, Record<string, unknown>]> {
  return (result as { [FOLLOW_UPS]?: Array<[string, Record<string, unknown>]> })[FOLLOW_UPS] ?? [];
}

export interface MethodDef {
  /** The capability that must be in `using` for the method to be called. */
  capability: string;
  handle(args: Record<string, unknown>, ctx: MethodContext): Promise<Record<string, unknown>>;
}

export type MethodTable = ReadonlyMap<string, MethodDef>;

export interface ParsedRequest {
  using: string[];
  methodCalls: Invocation[];
  createdIds: Record<string, string> | undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Checks the Request object's shape (RFC 8620 §3.3) and the request limits. */
export function parseRequest(body: Buffer, limits: CoreLimits, supported: ReadonlySet<string>): ParsedRequest {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new RequestError('notJSON', 'The request body is not valid JSON');
  }
  if (!isObject(value)) throw new RequestError('notRequest', 'The request is not a JSON object');
  const { using, methodCalls, createdIds } = value;
  if (!Array.isArray(using) || !using.every((u) => typeof u === 'string')) throw new RequestError('notRequest', '"using" must be an array of strings');
  if (!Array.isArray(methodCalls)) throw new RequestError('notRequest', '"methodCalls" must be an array');
  if (methodCalls.length > limits.maxCallsInRequest) {
    throw new RequestError('limit', `At most ${limits.maxCallsInRequest} method calls in one request`, { limit: 'maxCallsInRequest' });
  }
  for (const call of methodCalls) {
    if (!Array.isArray(call) || call.length !== 3 || typeof call[0] !== 'string' || !isObject(call[1]) || typeof call[2] !== 'string') {
      throw new RequestError('notRequest', 'Each method call must be [name, arguments object, call id]');
    }
  }
  if (createdIds !== undefined && (!isObject(createdIds) || !Object.values(createdIds).every((v) => typeof v === 'string'))) {
    throw new RequestError('notRequest', '"createdIds" must map creation ids to ids');
  }
  for (const u of using as string[]) {
    if (!supported.has(u)) throw new RequestError('unknownCapability', `Unknown capability ${u}`);
  }
  return { using: using as string[], methodCalls: methodCalls as Invocation[], createdIds: createdIds as Record<string, string> | undefined };
}

/** Runs the method calls in order (RFC 8620 §3.3) and builds the Response object. */
export async function processRequest(
  request: ParsedRequest,
  methods: MethodTable,
  ctx: Omit<MethodContext, 'createdIds'>,
  sessionState: string,
): Promise<Record<string, unknown>> {
  const using = new Set(request.using);
  const createdIds = new Map(Object.entries(request.createdIds ?? {}));
  const responses: Invocation[] = [];
  for (const [name, rawArgs, callId] of request.methodCalls) {
    const method = methods.get(name);
    try {
      if (!method || !using.has(method.capability)) {
        throw new MethodError('unknownMethod', method ? `${name} needs ${method.capability} in "using"` : `Unknown method ${name}`);
      }
      const args = resolveReferences(rawArgs, responses);
      const result = await method.handle(args, { ...ctx, createdIds });
      responses.push([name, result, callId]);
      for (const [followName, followResult] of followUpsOf(result)) responses.push([followName, followResult, callId]);
    } catch (err) {
      if (err instanceof MethodError) {
        responses.push(['error', err.response(), callId]);
      } else {
        ctx.log.error('JMAP method failed', { method: name, err: err as Error });
        responses.push(['error', { type: 'serverFail', description: 'The server failed to run this method' }, callId]);
      }
    }
  }
  const response: Record<string, unknown> = { methodResponses: responses, sessionState };
  if (request.createdIds !== undefined) response.createdIds = Object.fromEntries(createdIds);
  return response;
}
