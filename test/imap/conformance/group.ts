/**
 * A scenario group: one command or extension, run on a fresh user. It runs only when the server
 * announces every capability in `requires` after login (that is the only reason a group is
 * skipped); otherwise every command it sends must get the answer the RFC examples show.
 */
import type { Client } from './client.ts';

export interface GroupContext {
  /** The group's first connection, logged in, nothing selected. */
  c: Client;
  /** Another logged-in connection as the same user (for IDLE, concurrent expunges…). */
  connect(): Promise<Client>;
}

export interface Group {
  name: string;
  /** Capabilities the server must announce for the group to run ([] = IMAP4rev1 itself). */
  requires: string[];
  /** Where the expected behaviour is written. */
  rfc: string;
  run(ctx: GroupContext): Promise<void>;
}

/** A group; written `group('fetch-envelope', [], 'RFC 3501 §7.4.2', async ({ c }) => …)`. */
export function group(name: string, requires: string[], rfc: string, run: Group['run']): Group {
  return { name, requires, rfc, run };
}
