/**
 * In-process change notifications: "something changed in this user's mailbox". Writers in the
 * same process (ingest worker, IMAP/POP3 sessions) call notify(); IDLE sessions subscribe and
 * re-read the index at once. Changes made by other processes or containers are not seen here:
 * sessions also poll MailIndex.mailboxState (cheap) on a timer, which bounds the delay.
 */
import { EventEmitter } from 'node:events';

export interface MailboxEvents {
  notify(user: string, mailboxId: string): void;
  /** Returns an unsubscribe function. */
  subscribe(user: string, listener: (mailboxId: string) => void): () => void;
}

export function createMailboxEvents(): MailboxEvents {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return {
    notify(user, mailboxId) {
      emitter.emit(user, mailboxId);
    },
    subscribe(user, listener) {
      emitter.on(user, listener);
      return () => emitter.off(user, listener);
    },
  };
}
