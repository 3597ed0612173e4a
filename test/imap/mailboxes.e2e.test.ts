/**
 * Mailbox commands: CREATE, DELETE, RENAME (children, INBOX), SUBSCRIBE/UNSUBSCRIBE, LIST
 * (patterns, LIST-EXTENDED, SPECIAL-USE, CHILDREN, LIST-STATUS), LSUB, STATUS.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { python } from '../support/clients.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

describe('mailbox commands', () => {
  let sys: ImapTestSystem;
  let c: RawImap;
  beforeAll(async () => {
    sys = await startImapSystem('local');
  });
  beforeEach(async () => {
    c?.close();
    c = await RawImap.login(sys.port, sys.user, sys.password);
  });
  afterAll(async () => {
    c?.close();
    await sys?.stop();
  });

  const list = async (cmd = 'LIST "" *') => (await c.command(cmd)).untagged;

  it('lists INBOX and the special-use mailboxes (RFC 6154)', async () => {
    expect(await list()).toEqual([
      '* LIST (\\HasNoChildren) "/" "INBOX"',
      '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
      '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
      '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
      '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
      '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    ]);
    expect(await list('LIST "" ""')).toEqual(['* LIST (\\Noselect) "/" ""']);
    expect(await list('LIST (SPECIAL-USE) "" *')).toHaveLength(5);
    expect(await list('LIST "" inbox')).toEqual(['* LIST (\\HasNoChildren) "/" "INBOX"']);
  });

  it('CREATE makes superior names, validates names, refuses duplicates', async () => {
    expect((await c.command('CREATE Projects/2024/Q1')).tagged).toMatch(/OK/);
    expect((await c.command('CREATE Projects/2024/Q2/')).tagged).toMatch(/OK/);
    expect(await list('LIST "" Projects*')).toEqual([
      '* LIST (\\HasChildren) "/" "Projects"',
      '* LIST (\\HasChildren) "/" "Projects/2024"',
      '* LIST (\\HasNoChildren) "/" "Projects/2024/Q1"',
      '* LIST (\\HasNoChildren) "/" "Projects/2024/Q2"',
    ]);
    expect(await list('LIST Projects/ %')).toEqual(['* LIST (\\HasChildren) "/" "Projects/2024"']);
    expect((await c.command('CREATE Projects/2024/Q1')).tagged).toMatch(/NO \[ALREADYEXISTS\]/);
    expect((await c.command('CREATE inbox')).tagged).toMatch(/NO \[ALREADYEXISTS\]/);
    for (const bad of ['"a//b"', '"/abs"', '"a/../b"', '".."', '"x*"', '"y%"', '"&Jjo!-"', '""']) {
      expect((await c.command(`CREATE ${bad}`)).tagged, bad).toMatch(/NO/);
    }
    expect((await c.command('CREATE "Entw&APw-rfe"')).tagged).toMatch(/OK/);
    expect(await sys.ts.adapters.index.getMailbox(sys.user, 'Entwürfe')).not.toBeNull();
    expect((await c.command('CREATE Sent2 (USE (\\Sent))')).tagged).toMatch(/OK/);
    expect(await list('LIST "" Sent2')).toEqual(['* LIST (\\HasNoChildren \\Sent) "/" "Sent2"']);
    expect((await c.command('CREATE Bad (USE (\\Bogus))')).tagged).toMatch(/NO \[USEATTR\]/);
  });

  it('RENAME moves inferiors along; INBOX rename moves its messages and leaves INBOX (RFC 3501 §6.3.5)', async () => {
    await c.command('CREATE Old/Sub/Deep');
    expect((await c.command('RENAME Old New/Place')).tagged).toMatch(/OK/);
    expect(await list('LIST "" Old*')).toEqual([]);
    expect((await list('LIST "" New*')).map((l) => l.replace(/^.* "\/" /, ''))).toEqual(['"New"', '"New/Place"', '"New/Place/Sub"', '"New/Place/Sub/Deep"']);
    expect((await c.command('RENAME New/Place New/Place/Inner')).tagged).toMatch(/NO/);
    expect((await c.command('RENAME Nope X')).tagged).toMatch(/NO \[NONEXISTENT\]/);
    expect((await c.command('RENAME Sent Trash')).tagged).toMatch(/NO \[ALREADYEXISTS\]/);

    await c.command('CREATE INBOX/Child');
    await sys.deliver(sampleMessage('inbox 1'));
    await sys.deliver(sampleMessage('inbox 2'));
    const inboxBefore = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    expect((await c.command('RENAME INBOX "Old Inbox"')).tagged).toMatch(/OK/);
    expect(await sys.uids('INBOX')).toEqual([]);
    expect(await sys.uids('Old Inbox')).toEqual([1, 2]);
    const inboxAfter = await sys.ts.adapters.index.getMailbox(sys.user, 'INBOX');
    expect(inboxAfter!.id).toBe(inboxBefore!.id);
    expect(await list('LIST "" INBOX*')).toEqual(['* LIST (\\HasChildren) "/" "INBOX"', '* LIST (\\HasNoChildren) "/" "INBOX/Child"']);
  });

  it('DELETE: INBOX refused; parent kept as \\Noselect placeholder; selected mailbox closes', async () => {
    expect((await c.command('DELETE INBOX')).tagged).toMatch(/NO/);
    await c.command('CREATE Tree/Leaf');
    expect((await c.command('DELETE Tree')).tagged).toMatch(/OK/);
    expect(await list('LIST "" Tree*')).toEqual(['* LIST (\\Noselect \\HasChildren) "/" "Tree"', '* LIST (\\HasNoChildren) "/" "Tree/Leaf"']);
    expect((await c.command('DELETE Tree')).tagged).toMatch(/NO \[CANNOT\]/);
    expect((await c.command('SELECT Tree')).tagged).toMatch(/NO \[NONEXISTENT\]/);
    expect((await c.command('DELETE Missing')).tagged).toMatch(/NO \[NONEXISTENT\]/);
    await c.command('CREATE Gone');
    await sys.deliver(sampleMessage('doomed'), 'Gone');
    const blobKeys = (await sys.ts.adapters.index.listMessages(sys.user, (await sys.ts.adapters.index.getMailbox(sys.user, 'Gone'))!.id)).map((m) => m.blobKey);
    await c.command('SELECT Gone');
    expect((await c.command('DELETE Gone')).tagged).toMatch(/OK/);
    expect((await c.command('FETCH 1 FLAGS')).tagged).toMatch(/BAD/);
    // The deleted mailbox's blobs went with it (no other reference).
    expect(await sys.ts.adapters.blobs.exists(blobKeys[0])).toBe(false);
  });

  it('SUBSCRIBE / UNSUBSCRIBE / LSUB and LIST (SUBSCRIBED)', async () => {
    await c.command('CREATE Lists/Alpha');
    expect((await c.command('SUBSCRIBE Lists/Alpha')).tagged).toMatch(/OK/);
    expect((await c.command('LSUB "" Lists/*')).untagged).toEqual(['* LSUB () "/" "Lists/Alpha"']);
    expect((await c.command('LSUB "" Lists')).untagged).toEqual([]);
    expect((await c.command('LSUB "" %')).untagged).toContain('* LSUB (\\Noselect) "/" "Lists"');
    expect(await list('LIST (SUBSCRIBED) "" Lists*')).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/Alpha"']);
    expect(await list('LIST (SUBSCRIBED RECURSIVEMATCH) "" Lists')).toEqual(['* LIST (\\HasChildren) "/" "Lists" ("CHILDINFO" ("SUBSCRIBED"))']);
    expect(await list('LIST "" Lists/Alpha RETURN (SUBSCRIBED)')).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "/" "Lists/Alpha"']);
    expect((await c.command('UNSUBSCRIBE Lists/Alpha')).tagged).toMatch(/OK/);
    expect((await c.command('LSUB "" Lists/*')).untagged).toEqual([]);
  });

  it('keeps subscriptions as names of their own: DELETE leaves them, a name that does not exist can be subscribed (RFC 9051 §6.3.7–6.3.9, RFC 5258 §3.1)', async () => {
    await c.command('CREATE Feeds/News');
    expect((await c.command('SUBSCRIBE Feeds/News')).tagged).toMatch(/OK/);
    expect((await c.command('DELETE Feeds/News')).tagged).toMatch(/OK/);
    // LSUB shows the name \Noselect; LIST (SUBSCRIBED) shows it \NonExistent.
    expect((await c.command('LSUB "" Feeds/*')).untagged).toEqual(['* LSUB (\\Noselect) "/" "Feeds/News"']);
    expect(await list('LIST (SUBSCRIBED) "" Feeds/*')).toEqual(['* LIST (\\NonExistent \\Subscribed) "/" "Feeds/News"']);
    // Plain LIST shows only what exists.
    expect(await list('LIST "" Feeds/*')).toEqual([]);
    expect(await list('LIST "" Feeds/* RETURN (SUBSCRIBED)')).toEqual([]);
    // Recreated, the mailbox is subscribed again.
    await c.command('CREATE Feeds/News');
    expect((await c.command('LSUB "" Feeds/*')).untagged).toEqual(['* LSUB () "/" "Feeds/News"']);
    expect(await list('LIST (SUBSCRIBED) "" Feeds/*')).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "/" "Feeds/News"']);
    // SUBSCRIBE to a name that does not exist (RFC 9051 §6.3.7: the server MAY, not must, check).
    expect((await c.command('SUBSCRIBE Someday/Maybe')).tagged).toMatch(/OK/);
    expect(await list('LIST (SUBSCRIBED) "" Someday*')).toEqual(['* LIST (\\NonExistent \\Subscribed) "/" "Someday/Maybe"']);
    expect(await list('LIST (SUBSCRIBED RECURSIVEMATCH) "" Someday')).toEqual(['* LIST (\\NonExistent) "/" "Someday" ("CHILDINFO" ("SUBSCRIBED"))']);
    expect((await c.command('LSUB "" %')).untagged).toContain('* LSUB (\\Noselect) "/" "Someday"');
    expect((await c.command('SUBSCRIBE "bad*name"')).tagged).toMatch(/NO /);
    expect((await c.command('UNSUBSCRIBE Someday/Maybe')).tagged).toMatch(/OK/);
    expect((await c.command('UNSUBSCRIBE Someday/Maybe')).tagged).toMatch(/OK/);
    expect(await list('LIST (SUBSCRIBED) "" Someday*')).toEqual([]);
    // The subscription was not tied to a session: another one sees it.
    const other = await RawImap.login(sys.port, sys.user, sys.password);
    expect((await other.command('LSUB "" Feeds/*')).untagged).toEqual(['* LSUB () "/" "Feeds/News"']);
    other.close();
  });

  it('RENAME moves the subscriptions of the mailbox and its inferiors; renaming INBOX keeps INBOX subscribed', async () => {
    await c.command('CREATE Proj/Sub');
    await c.command('SUBSCRIBE Proj');
    await c.command('SUBSCRIBE Proj/Sub');
    expect((await c.command('RENAME Proj Work')).tagged).toMatch(/OK/);
    expect((await c.command('LSUB "" Work*')).untagged).toEqual(['* LSUB () "/" "Work"', '* LSUB () "/" "Work/Sub"']);
    expect((await c.command('LSUB "" Proj*')).untagged).toEqual([]);
    expect((await c.command('RENAME INBOX Old-Inbox')).tagged).toMatch(/OK/);
    expect((await c.command('LSUB "" INBOX')).untagged).toEqual(['* LSUB () "/" "INBOX"']);
    expect((await c.command('LSUB "" Old-Inbox')).untagged).toEqual([]);
  });

  it("imaplib's lsub and list see a deleted subscribed mailbox as \\Noselect / \\NonExistent", async () => {
    const script = [
      'import imaplib, json, sys',
      'M = imaplib.IMAP4(sys.argv[1], int(sys.argv[2]))',
      'M.login(sys.argv[3], sys.argv[4])',
      'out = {}',
      'out["create"] = M.create("Club")[0]',
      'out["subscribe"] = M.subscribe("Club")[0]',
      'out["subscribe_missing"] = M.subscribe("Club/Later")[0]',
      'out["delete"] = M.delete("Club")[0]',
      'typ, data = M.lsub(\'""\', "Club*")',
      'out["lsub"] = [d.decode() for d in data if d]',
      'typ, data = M.list(\'""\', "Club*")',
      'out["list"] = [d.decode() for d in data if d]',
      'typ, data = M._simple_command("LIST", "(SUBSCRIBED)", \'""\', "Club*")',
      'typ, data = M._untagged_response(typ, data, "LIST")',
      'out["list_subscribed"] = [d.decode() for d in data if d]',
      'M.logout()',
      'print(json.dumps(out))',
    ].join('\n');
    const r = await python(script, ['127.0.0.1', String(sys.port), sys.user, sys.password], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ create: 'OK', subscribe: 'OK', subscribe_missing: 'OK', delete: 'OK' });
    expect(out.lsub).toEqual(['(\\Noselect) "/" "Club"', '(\\Noselect) "/" "Club/Later"']);
    expect(out.list).toEqual([]);
    expect(out.list_subscribed).toEqual(['(\\NonExistent \\Subscribed) "/" "Club"', '(\\NonExistent \\Subscribed) "/" "Club/Later"']);
  });

  it('STATUS counts, and LIST-STATUS returns them after each LIST line', async () => {
    await c.command('CREATE Counted');
    await sys.deliver(sampleMessage('a', 'xx\r\n'), 'Counted', ['\\Seen']);
    await sys.deliver(sampleMessage('b'), 'Counted', ['\\Deleted']);
    const mb = await sys.ts.adapters.index.getMailbox(sys.user, 'Counted');
    const size = (await sys.ts.adapters.index.listMessages(sys.user, mb!.id)).reduce((n, m) => n + m.size, 0);
    const r = await c.command('STATUS Counted (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN SIZE DELETED)');
    expect(r.untagged).toEqual([`* STATUS "Counted" (MESSAGES 2 RECENT 0 UIDNEXT 3 UIDVALIDITY ${mb!.uidValidity} UNSEEN 1 SIZE ${size} DELETED 1)`]);
    expect((await c.command('STATUS Nope (MESSAGES)')).tagged).toMatch(/NO \[NONEXISTENT\]/);
    expect(await list('LIST "" Counted RETURN (STATUS (MESSAGES UNSEEN))')).toEqual([
      '* LIST (\\HasNoChildren) "/" "Counted"',
      '* STATUS "Counted" (MESSAGES 2 UNSEEN 1)',
    ]);
  });
});
