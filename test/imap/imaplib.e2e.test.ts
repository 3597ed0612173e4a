/**
 * Python's imaplib scenario (login, list, select, search, fetch headers then bodies, store,
 * copy, move, expunge, append, idle) on the local adapters and on the aws adapters (emulator).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

const SCRIPT = path.join(import.meta.dirname, 'support', 'imaplib_scenario.py');

describe.each(ADAPTER_KINDS)('imaplib scenario (%s adapters)', (kind) => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem(kind);
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('completes every step with the answers RFC 3501 prescribes', async () => {
    const r = await run('python3', [SCRIPT, '127.0.0.1', String(sys.port), sys.user, sys.password], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.capabilities).toContain('IMAP4REV1');
    expect(out.list).toContain('(\\HasNoChildren \\Sent) "/" "Sent"');
    expect(out.appenduid[0]).toMatch(/^\[APPENDUID \d+ 1\] APPEND completed$/);
    expect(out.exists).toBe(3);
    expect(out.search_all).toBe('1 2 3');
    expect(out.search_flagged).toBe('2');
    expect(out.search_subject).toBe('3');
    expect(out.search_body).toBe('1');
    expect(out.headers).toEqual(['Message number 1', 'Message number 2', 'Message number 3']);
    // BODY.PEEK leaves \Seen alone; BODY[] sets it.
    expect(out.flags_after_peek.join(' ')).not.toContain('\\Seen');
    expect(out.bodies_equal).toEqual([true, true, true]);
    expect(out.flags_after_body.every((f: string) => f.includes('\\Seen'))).toBe(true);
    expect(out.store[0]).toMatch(/^1 \(FLAGS \(.*\\Answered.*\)\)$/);
    expect(out.store[0]).toContain('$Label1');
    expect(out.store_minus).toEqual([]);
    expect(out.copy).toMatch(/^\[COPYUID \d+ 1:2 1:2\] COPY completed$/);
    expect(out.move[0]).toBe('OK');
    expect(out.move[1]).toMatch(/^\[COPYUID \d+ 3 1\]/);
    expect(out.after_move).toBe('1 2');
    // imaplib keeps untagged EXPUNGEs until the next expunge(): 3 from UID MOVE (RFC 6851 §4.3), then 1.
    expect(out.expunge).toEqual(['3', '1']);
    expect(out.status_archive).toBe('"Archive" (MESSAGES 2 UIDNEXT 3 UNSEEN 1)');
    expect(out.status_trash).toBe('"Trash" (MESSAGES 1)');
    expect(out.idle_cont).toMatch(/^\+ /);
    expect(out.idle_push).toBe('* 2 EXISTS');
    expect(out.idle_done).toMatch(/OK IDLE terminated$/);
    expect(out.logout).toBe('BYE');
    expect(await sys.uids('INBOX')).toEqual([2, 4]);
  });
});
