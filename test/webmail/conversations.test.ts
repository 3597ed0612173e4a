/**
 * What the webmail loads of a page of conversations (webmail/src/conversations.ts): every member
 * of small threads, only the newest of a huge one (a notification feed of thousands stays one
 * Email/get under the server's maxObjectsInGet of 1,000), always the rows' own emails.
 */
import { describe, expect, it } from 'vitest';
import type { EmailSummary } from '../../webmail/src/emails.ts';
import { memberIds, threadSizes } from '../../webmail/src/conversations.ts';

const row = (id: string, threadId: string) => ({ id, threadId }) as EmailSummary;

describe('webmail conversations: members to load', () => {
  it('loads every member of small threads', () => {
    const threads = {
      list: [
        { id: 'T1', emailIds: ['a', 'b', 'c'] },
        { id: 'T2', emailIds: ['d'] },
      ],
    };
    expect(memberIds(threads, [row('c', 'T1'), row('d', 'T2')]).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(threadSizes(threads)).toEqual(
      new Map([
        ['T1', 3],
        ['T2', 1],
      ]),
    );
  });

  it('loads the newest members of huge threads, under 1,000 ids for 50 rows, the rows included', () => {
    const list = Array.from({ length: 50 }, (_, t) => ({ id: `T${t}`, emailIds: Array.from({ length: 5000 }, (_, i) => `t${t}-${i}`) }));
    const rows = list.map((t) => row(`${t.id.replace('T', 't')}-17`, t.id)); // an old message of each thread in this mailbox
    const ids = memberIds({ list }, rows);
    expect(ids.length).toBeLessThanOrEqual(1000);
    for (const r of rows) expect(ids).toContain(r.id);
    expect(ids).toContain('t0-4999');
    expect(ids).not.toContain('t0-4000');
    expect(threadSizes({ list }).get('T3')).toBe(5000);
  });
});
