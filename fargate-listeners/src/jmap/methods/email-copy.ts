/**
 * Email/copy (RFC 8621 §4.7, RFC 8620 §5.4) copies Emails from one account into another: the
 * target `accountId` "MUST be different to the `fromAccountId`" (§5.4), and an Email moves
 * between mailboxes of one account with Email/set mailboxIds instead (RFC 8621 §4.7).
 * Every user here has one account, their own (no sharing: session-resource.ts lists one), so
 * there is no other account to copy from. The method answers as §5.4 says for each case:
 * `accountNotFound` for a target that is not the user's account, `invalidArguments` when the
 * source is the same account (or the arguments are malformed), and `fromAccountNotFound` for
 * any other source — the account does not exist or the user may not read it, which the RFC
 * does not let a server tell apart. When accounts can be shared, this is where a copy goes.
 */
import type { MethodContext, MethodDef } from '../api.ts';
import { MAIL } from '../capabilities.ts';
import { MethodError, invalidArguments } from '../errors.ts';
import { optionalBool, optionalObject, optionalString, requireAccount } from './common.ts';

async function copy(args: Record<string, unknown>, ctx: MethodContext): Promise<Record<string, unknown>> {
  const accountId = requireAccount(args, ctx);
  if (typeof args.fromAccountId !== 'string') throw invalidArguments('fromAccountId is required');
  const create = optionalObject(args, 'create');
  if (!create) throw invalidArguments('create is required');
  for (const [cid, e] of Object.entries(create)) {
    if (!e || typeof e !== 'object' || Array.isArray(e) || typeof (e as Record<string, unknown>).id !== 'string') {
      throw invalidArguments(`create/${cid} must be an Email with the id to copy`);
    }
  }
  optionalString(args, 'ifFromInState');
  optionalString(args, 'ifInState');
  optionalString(args, 'destroyFromIfInState');
  optionalBool(args, 'onSuccessDestroyOriginal', false);
  if (args.fromAccountId === accountId) {
    throw invalidArguments('fromAccountId must differ from accountId (RFC 8620 §5.4); within one account, change mailboxIds with Email/set');
  }
  throw new MethodError('fromAccountNotFound', `No account ${args.fromAccountId} to copy from`);
}

export function copyMethods(): Record<string, MethodDef> {
  return { 'Email/copy': { capability: MAIL, handle: copy } };
}
