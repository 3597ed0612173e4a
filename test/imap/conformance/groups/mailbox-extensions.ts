/**
 * Mailbox-level extensions: LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), SPECIAL-USE and
 * CREATE-SPECIAL-USE (RFC 6154), STATUS=SIZE (RFC 8438), NAMESPACE (RFC 2342), QUOTA (RFC 9208
 * with the RFC 2087 forms Dovecot 2.3 has).
 */
import type { Answer } from '../client.ts';
import { group } from '../group.ts';
import { message } from '../messages.ts';

/** The mailbox names of the LIST responses, sorted, each with its upper-cased attributes. */
function listed(a: Answer): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const m of a.all(/^\* LIST \(([^)]*)\) (?:"[^"]*"|NIL) "?([^"]*)"?(?: \(.*\))?$/i))
    out[m[2]] = m[1]
      .split(' ')
      .filter(Boolean)
      .map((x) => x.toUpperCase())
      .sort();
  return out;
}

export const mailboxExtensionGroups = [
  group('list-extended', ['LIST-EXTENDED'], 'RFC 5258 §3, §5 examples', async ({ c }) => {
    for (const m of ['le', 'le/a', 'le/b', 'other']) await c.ok(`CREATE ${m}`);
    await c.ok('SUBSCRIBE le/a');
    await c.ok('SUBSCRIBE other');
    let a = await c.ok('LIST (SUBSCRIBED) "" "le*"');
    a.expectEqual('LIST (SUBSCRIBED)', Object.keys(listed(a)), ['le/a']);
    if (!listed(a)['le/a'].includes('\\SUBSCRIBED')) a.fail('\\Subscribed missing');
    a = await c.ok('LIST "" ("le/a" "other")');
    a.expectEqual('several patterns', Object.keys(listed(a)).sort(), ['le/a', 'other']);
    a = await c.ok('LIST "" "le*" RETURN (SUBSCRIBED CHILDREN)');
    const l = listed(a);
    a.expectEqual('RETURN (SUBSCRIBED)', [l['le/a'].includes('\\SUBSCRIBED'), l['le/b'].includes('\\SUBSCRIBED')], [true, false]);
    a.expectEqual('RETURN (CHILDREN)', [l.le.includes('\\HASCHILDREN'), l['le/a'].includes('\\HASNOCHILDREN')], [true, true]);
    // A parent that is not subscribed itself but has subscribed children (RFC 5258 §3.5).
    a = await c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "le%"');
    a.one(/^\* LIST \([^)]*\) "\/" "?le"? \("?CHILDINFO"? \("SUBSCRIBED"\)\)$/i);
    // A subscribed name whose mailbox is gone is \NonExistent (RFC 5258 §3.1, §5 example 4).
    await c.ok('CREATE vanishing');
    await c.ok('SUBSCRIBE vanishing');
    await c.ok('DELETE vanishing');
    a = await c.ok('LIST (SUBSCRIBED) "" "vanishing"');
    a.expectEqual(
      'subscribed, deleted',
      listed(a).vanishing?.filter((x) => x !== '\\NOSELECT'),
      ['\\NONEXISTENT', '\\SUBSCRIBED'],
    );
    await c.ok('LIST (REMOTE) "" "le"');
    await c.bad('LIST (RECURSIVEMATCH) "" "*"');
    await c.bad('LIST (NO-SUCH-OPTION) "" "*"');
    await c.bad('LIST "" "*" RETURN (NO-SUCH-OPTION)');
  }),

  group('list-status', ['LIST-STATUS'], 'RFC 5819 §2', async ({ c }) => {
    await c.ok('CREATE ls');
    await c.append('ls', message({ Subject: 'a' }), { flags: '\\Seen' });
    await c.append('ls', message({ Subject: 'b' }));
    const a = await c.ok('LIST "" "ls" RETURN (STATUS (MESSAGES UNSEEN))');
    a.one(/^\* LIST \([^)]*\) "\/" "?ls"?$/i);
    a.one(/^\* STATUS "?ls"? \((MESSAGES 2 UNSEEN 1|UNSEEN 1 MESSAGES 2)\)$/i);
  }),

  group('special-use', ['SPECIAL-USE'], 'RFC 6154 §2, §5.1', async ({ c }) => {
    const uses = { Sent: '\\SENT', Drafts: '\\DRAFTS', Trash: '\\TRASH', Junk: '\\JUNK', Archive: '\\ARCHIVE' };
    let a = await c.ok('LIST "" "*" RETURN (SPECIAL-USE)');
    let l = listed(a);
    for (const [name, use] of Object.entries(uses)) if (!l[name]?.includes(use)) a.fail(`${name} without ${use}`);
    if (l.INBOX.some((x) => Object.values(uses).includes(x))) a.fail('INBOX with a special use');
    a = await c.ok('LIST (SPECIAL-USE) "" "*"');
    l = listed(a);
    a.expectEqual('LIST (SPECIAL-USE)', Object.keys(l).sort(), Object.keys(uses).sort());
  }),

  group('create-special-use', ['CREATE-SPECIAL-USE'], 'RFC 6154 §3, §5.3', async ({ c }) => {
    await c.ok('CREATE Flagged-mail (USE (\\Flagged))');
    (await c.ok('LIST "" Flagged-mail RETURN (SPECIAL-USE)')).one(/^\* LIST \([^)]*\\Flagged[^)]*\) "\/" "?Flagged-mail"?$/i);
    (await c.no('CREATE Odd (USE (\\NoSuchUse))')).codeMatches(/^USEATTR$/i);
  }),

  group('status-size', ['STATUS=SIZE'], 'RFC 8438 §2', async ({ c }) => {
    await c.ok('CREATE sz');
    const msgs = [message({ Subject: 'one' }), message({ Subject: 'two' }, 'x'.repeat(500) + '\r\n')];
    for (const m of msgs) await c.append('sz', m);
    (await c.ok('STATUS sz (SIZE MESSAGES)')).one(
      new RegExp(`\\((SIZE ${msgs[0].length + msgs[1].length} MESSAGES 2|MESSAGES 2 SIZE ${msgs[0].length + msgs[1].length})\\)`, 'i'),
    );
  }),

  group('namespace', ['NAMESPACE'], 'RFC 2342 §5', async ({ c }) => {
    (await c.ok('NAMESPACE')).one(/^\* NAMESPACE \(\("" "\/"\)\) NIL NIL$/i);
  }),

  group('quota', ['QUOTA'], 'RFC 9208 §4.1.1, §4.1.2, §5 (RFC 2087 forms)', async ({ c }) => {
    const root = async () => {
      const a = await c.ok('GETQUOTAROOT INBOX');
      const [, roots] = a.one(/^\* QUOTAROOT "?INBOX"? (.+)$/i);
      const name = /^"([^"]*)"|^(\S+)/.exec(roots)!;
      const r = name[1] ?? name[2];
      const q = a.one(/^\* QUOTA ("[^"]*"|\S+) \(STORAGE (\d+) (\d+)\b.*\)$/i);
      a.expectEqual('QUOTA names the root', q[1].replace(/"/g, ''), r);
      return { name: r, used: Number(q[2]), limit: Number(q[3]) };
    };
    const before = await root();
    await c.append('INBOX', message({ Subject: 'big' }, 'y'.repeat(1022).concat('\r\n').repeat(20)));
    const after = await root();
    // STORAGE is in units of 1024 octets (RFC 9208 §5.1).
    const grown = after.used - before.used;
    if (grown < 20 || grown > 21) (await c.ok('NOOP')).fail(`STORAGE grew by ${grown} for a 20 KiB message`);
    (await c.ok(`GETQUOTA "${after.name}"`)).one(/^\* QUOTA ("[^"]*"|\S+) \(STORAGE \d+ \d+\b.*\)$/i);
    await c.no('GETQUOTA "no such root"');
    await c.refused(`SETQUOTA "${after.name}" (STORAGE 10)`);
  }),
];
