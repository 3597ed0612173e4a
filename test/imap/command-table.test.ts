/**
 * The IMAP command table is typed per request kind: each handler is checked against the
 * request its parser produces. The type checks here are enforced by `tsc --noEmit` (part of
 * lint): a `@ts-expect-error` that no longer finds an error fails the type check, so these
 * fail if the table goes back to `req: any`.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS, type CommandTable, type RequestOf } from '#listeners/imap/session/commands/index.ts';
import { fetch } from '#listeners/imap/session/commands/fetch.ts';
import { search } from '#listeners/imap/session/commands/search.ts';
import { select } from '#listeners/imap/session/commands/select.ts';
import { parse } from './support/parse.ts';

describe('IMAP command table', () => {
  it("refuses, at type-check time, a handler whose request type is not its command's", () => {
    const wrong: CommandTable['SEARCH'] = {
      states: ['selected'],
      // @ts-expect-error FETCH's handler takes a FetchRequest, not a SearchRequest
      run: fetch,
    };
    const right: CommandTable['SEARCH'] = { states: ['selected'], run: search };
    expect(wrong.run).not.toBe(right.run);
    expect(COMMANDS.SEARCH.run).toBe(search);
  });

  it('gives SELECT and EXAMINE the one SelectRequest (RFC 9051 §6.3.2, §6.3.3)', () => {
    const examine: RequestOf<'EXAMINE'> = { name: 'EXAMINE', mailbox: Buffer.from('INBOX'), condstore: false, qresync: null };
    // @ts-expect-error a LOGIN request is not what EXAMINE runs with
    const login: RequestOf<'EXAMINE'> = { name: 'LOGIN', user: 'a', password: 'b' };
    expect(login.name).toBe('LOGIN');
    const parsed = parse('a EXAMINE INBOX');
    expect(parsed).toMatchObject({ ok: true, request: { name: examine.name, mailbox: examine.mailbox } });
    expect(COMMANDS.EXAMINE.run).toBe(select);
    expect(COMMANDS.SELECT.run).toBe(select);
  });
});
