/**
 * The JMAP Session resource (RFC 8620 §2), served at `/.well-known/jmap` (and at the
 * `/jmap/session` it is an alias of). URLs are absolute, built from the request's origin, so
 * the object is right behind any host name that reaches us.
 */
import { CONTACTS, CORE, MAIL, SUBMISSION, VACATION_RESPONSE } from './capabilities.ts';
import { accountIdOf } from './ids.ts';
import type { CoreLimits } from './limits.ts';
import { MAX_NAME_DEPTH, MAX_NAME_LENGTH } from '../imap/session/mailbox-names.ts';
import { shortHash } from './state.ts';

export const API_PATH = '/jmap/api';
export const DOWNLOAD_PATH = '/jmap/download/';
export const UPLOAD_PATH = '/jmap/upload/';
export const EVENTSOURCE_PATH = '/jmap/eventsource';

export function sessionResource(user: string, origin: string, limits: CoreLimits, capabilities: ReadonlySet<string>): Record<string, unknown> {
  const accountId = accountIdOf(user);
  const caps: Record<string, unknown> = { [CORE]: limits };
  const accountCapabilities: Record<string, unknown> = {};
  const primaryAccounts: Record<string, string> = {};
  if (capabilities.has(MAIL)) {
    caps[MAIL] = {};
    accountCapabilities[MAIL] = {
      maxMailboxesPerEmail: null,
      maxMailboxDepth: MAX_NAME_DEPTH,
      maxSizeMailboxName: MAX_NAME_LENGTH,
      maxSizeAttachmentsPerEmail: limits.maxSizeUpload,
      emailQuerySortOptions: ['receivedAt', 'size'],
      mayCreateTopLevelMailbox: true,
    };
    primaryAccounts[MAIL] = accountId;
  }
  if (capabilities.has(SUBMISSION)) {
    caps[SUBMISSION] = {};
    // RFC 8621 §1.3.2: no delayed sending (every submission is final at once), no SMTP extensions.
    accountCapabilities[SUBMISSION] = { maxDelayedSend: 0, submissionExtensions: {} };
    primaryAccounts[SUBMISSION] = accountId;
  }
  if (capabilities.has(VACATION_RESPONSE)) {
    caps[VACATION_RESPONSE] = {};
    accountCapabilities[VACATION_RESPONSE] = {};
    primaryAccounts[VACATION_RESPONSE] = accountId;
  }
  if (capabilities.has(CONTACTS)) {
    caps[CONTACTS] = {};
    // RFC 9610 §1.4.1: a card is in exactly one address book here (methods/contacts.ts).
    accountCapabilities[CONTACTS] = { maxAddressBooksPerCard: 1, mayCreateAddressBook: true };
    primaryAccounts[CONTACTS] = accountId;
  }
  const body: Record<string, unknown> = {
    capabilities: caps,
    accounts: { [accountId]: { name: user, isPersonal: true, isReadOnly: false, accountCapabilities } },
    primaryAccounts,
    username: user,
    apiUrl: origin + API_PATH,
    downloadUrl: `${origin}${DOWNLOAD_PATH}{accountId}/{blobId}/{name}?accept={type}`,
    uploadUrl: `${origin}${UPLOAD_PATH}{accountId}/`,
    eventSourceUrl: `${origin}${EVENTSOURCE_PATH}?types={types}&closeafter={closeafter}&ping={ping}`,
  };
  body.state = shortHash(body);
  return body;
}
