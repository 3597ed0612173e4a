/** CANCELUPDATE (RFC 5267 §4.3.5): ends the update contexts named by their tags (contexts.ts). */
import type { CancelUpdateRequest } from '#listeners/imap/protocol/requests.ts';
import { cancelContexts } from '../contexts.ts';
import { no, ok, type Tagged } from '../errors.ts';
import type { ImapSession } from '../session.ts';

export async function cancelUpdate(s: ImapSession, req: CancelUpdateRequest): Promise<Tagged> {
  // Checked before any is ended: a tag that names no context ends none (the client learns of
  // its mistake without losing the others).
  const unknown = cancelContexts(s.selected!, req.tags);
  if (unknown !== null) throw no(`No update context has the tag ${JSON.stringify(unknown.slice(0, 40))}`);
  return ok('No further updates');
}
