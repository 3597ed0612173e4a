/**
 * The MailIndex class both index adapters build on. An adapter keeps its operations in modules
 * by concern (accounts, mailboxes, messages, blob-refs, leases: sqlite-index/ and dynamo-index/),
 * each operation a function of the adapter's context (the SQLite handle; the DynamoDB client and
 * table) and the port's arguments; this class hands every call to the function of its name.
 */
import type { MailIndex } from '../ports/mail-index.ts';

type Operation = Exclude<keyof MailIndex, 'close'>;
type Args<K extends Operation> = Parameters<MailIndex[K]>;
type Result<K extends Operation> = ReturnType<MailIndex[K]>;

/** The port's operations as functions of a context: `addDomain(ctx, name, options)` and so on. */
export type IndexOperations<C> = { [K in Operation]: (ctx: C, ...args: Args<K>) => Result<K> };

export abstract class SplitMailIndex<C> implements MailIndex {
  protected readonly ctx: C;
  private readonly ops: IndexOperations<C>;

  protected constructor(ctx: C, ops: IndexOperations<C>) {
    this.ctx = ctx;
    this.ops = ops;
  }

  // --- domains ---

  addDomain(...a: Args<'addDomain'>): Result<'addDomain'> {
    return this.ops.addDomain(this.ctx, ...a);
  }

  setDomainPostmaster(...a: Args<'setDomainPostmaster'>): Result<'setDomainPostmaster'> {
    return this.ops.setDomainPostmaster(this.ctx, ...a);
  }

  removeDomain(...a: Args<'removeDomain'>): Result<'removeDomain'> {
    return this.ops.removeDomain(this.ctx, ...a);
  }

  listDomains(...a: Args<'listDomains'>): Result<'listDomains'> {
    return this.ops.listDomains(this.ctx, ...a);
  }

  getDomain(...a: Args<'getDomain'>): Result<'getDomain'> {
    return this.ops.getDomain(this.ctx, ...a);
  }

  // --- users ---

  addUser(...a: Args<'addUser'>): Result<'addUser'> {
    return this.ops.addUser(this.ctx, ...a);
  }

  getUser(...a: Args<'getUser'>): Result<'getUser'> {
    return this.ops.getUser(this.ctx, ...a);
  }

  listUsers(...a: Args<'listUsers'>): Result<'listUsers'> {
    return this.ops.listUsers(this.ctx, ...a);
  }

  setPasswordHash(...a: Args<'setPasswordHash'>): Result<'setPasswordHash'> {
    return this.ops.setPasswordHash(this.ctx, ...a);
  }

  removeUser(...a: Args<'removeUser'>): Result<'removeUser'> {
    return this.ops.removeUser(this.ctx, ...a);
  }

  getQuota(...a: Args<'getQuota'>): Result<'getQuota'> {
    return this.ops.getQuota(this.ctx, ...a);
  }

  setQuota(...a: Args<'setQuota'>): Result<'setQuota'> {
    return this.ops.setQuota(this.ctx, ...a);
  }

  // --- mailboxes and subscriptions ---

  createMailbox(...a: Args<'createMailbox'>): Result<'createMailbox'> {
    return this.ops.createMailbox(this.ctx, ...a);
  }

  getMailbox(...a: Args<'getMailbox'>): Result<'getMailbox'> {
    return this.ops.getMailbox(this.ctx, ...a);
  }

  listMailboxes(...a: Args<'listMailboxes'>): Result<'listMailboxes'> {
    return this.ops.listMailboxes(this.ctx, ...a);
  }

  renameMailbox(...a: Args<'renameMailbox'>): Result<'renameMailbox'> {
    return this.ops.renameMailbox(this.ctx, ...a);
  }

  deleteMailbox(...a: Args<'deleteMailbox'>): Result<'deleteMailbox'> {
    return this.ops.deleteMailbox(this.ctx, ...a);
  }

  setSubscribed(...a: Args<'setSubscribed'>): Result<'setSubscribed'> {
    return this.ops.setSubscribed(this.ctx, ...a);
  }

  listSubscriptions(...a: Args<'listSubscriptions'>): Result<'listSubscriptions'> {
    return this.ops.listSubscriptions(this.ctx, ...a);
  }

  mailboxState(...a: Args<'mailboxState'>): Result<'mailboxState'> {
    return this.ops.mailboxState(this.ctx, ...a);
  }

  changesSince(...a: Args<'changesSince'>): Result<'changesSince'> {
    return this.ops.changesSince(this.ctx, ...a);
  }

  // --- messages ---

  appendMessage(...a: Args<'appendMessage'>): Result<'appendMessage'> {
    return this.ops.appendMessage(this.ctx, ...a);
  }

  appendMessageTo(...a: Args<'appendMessageTo'>): Result<'appendMessageTo'> {
    return this.ops.appendMessageTo(this.ctx, ...a);
  }

  listMessages(...a: Args<'listMessages'>): Result<'listMessages'> {
    return this.ops.listMessages(this.ctx, ...a);
  }

  listEnvelopes(...a: Args<'listEnvelopes'>): Result<'listEnvelopes'> {
    return this.ops.listEnvelopes(this.ctx, ...a);
  }

  getMessages(...a: Args<'getMessages'>): Result<'getMessages'> {
    return this.ops.getMessages(this.ctx, ...a);
  }

  updateFlags(...a: Args<'updateFlags'>): Result<'updateFlags'> {
    return this.ops.updateFlags(this.ctx, ...a);
  }

  expunge(...a: Args<'expunge'>): Result<'expunge'> {
    return this.ops.expunge(this.ctx, ...a);
  }

  copyMessages(...a: Args<'copyMessages'>): Result<'copyMessages'> {
    return this.ops.copyMessages(this.ctx, ...a);
  }

  // --- bearer tokens ---

  putAuthToken(...a: Args<'putAuthToken'>): Result<'putAuthToken'> {
    return this.ops.putAuthToken(this.ctx, ...a);
  }

  getAuthToken(...a: Args<'getAuthToken'>): Result<'getAuthToken'> {
    return this.ops.getAuthToken(this.ctx, ...a);
  }

  deleteAuthToken(...a: Args<'deleteAuthToken'>): Result<'deleteAuthToken'> {
    return this.ops.deleteAuthToken(this.ctx, ...a);
  }

  // --- blob holds ---

  holdBlob(...a: Args<'holdBlob'>): Result<'holdBlob'> {
    return this.ops.holdBlob(this.ctx, ...a);
  }

  releaseBlob(...a: Args<'releaseBlob'>): Result<'releaseBlob'> {
    return this.ops.releaseBlob(this.ctx, ...a);
  }

  // --- account objects ---

  putAccountObject(...a: Args<'putAccountObject'>): Result<'putAccountObject'> {
    return this.ops.putAccountObject(this.ctx, ...a);
  }

  getAccountObject(...a: Args<'getAccountObject'>): Result<'getAccountObject'> {
    return this.ops.getAccountObject(this.ctx, ...a);
  }

  listAccountObjects(...a: Args<'listAccountObjects'>): Result<'listAccountObjects'> {
    return this.ops.listAccountObjects(this.ctx, ...a);
  }

  // --- leases ---

  acquireLease(...a: Args<'acquireLease'>): Result<'acquireLease'> {
    return this.ops.acquireLease(this.ctx, ...a);
  }

  releaseLease(...a: Args<'releaseLease'>): Result<'releaseLease'> {
    return this.ops.releaseLease(this.ctx, ...a);
  }

  abstract close(): Promise<void>;
}
