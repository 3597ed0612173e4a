/** Modified UTF-7 mailbox names (RFC 3501 §5.1.3). */
import { describe, expect, it } from 'vitest';
import { decodeMutf7, encodeMutf7, Mutf7Error } from '#listeners/imap/protocol/mutf7.ts';
import { decodeMailboxName, MailboxNameError, patternMatcher, validateNewName } from '#listeners/imap/session/mailbox-names.ts';

describe('modified UTF-7', () => {
  it('round-trips the RFC example and other scripts', () => {
    expect(encodeMutf7('~peter/mail/台北/日本語')).toBe('~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    expect(decodeMutf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-')).toBe('~peter/mail/台北/日本語');
    for (const s of ['Entwürfe', 'Gelöschte Elemente', 'A&B', '&', 'Отправленные', '😀 emoji', 'x\u00e9y\u00e9']) expect(decodeMutf7(encodeMutf7(s))).toBe(s);
    expect(encodeMutf7('A&B')).toBe('A&-B');
  });

  it('rejects non-canonical and broken encodings', () => {
    for (const bad of ['&', '&U,BTFw', '&AGE-', '&Jjo!-', '&AOQ-&AOQ-', '&2D3-', 'é']) expect(() => decodeMutf7(bad), bad).toThrow(Mutf7Error);
  });

  it('decodes names per session mode and normalises INBOX', () => {
    expect(decodeMailboxName(Buffer.from('inbox'), false)).toBe('INBOX');
    expect(decodeMailboxName(Buffer.from('InBox/Sub'), false)).toBe('INBOX/Sub');
    expect(decodeMailboxName(Buffer.from('Inboxes'), false)).toBe('Inboxes');
    expect(decodeMailboxName(Buffer.from('Entw&APw-rfe'), false)).toBe('Entwürfe');
    expect(decodeMailboxName(Buffer.from('Entwürfe'), true)).toBe('Entwürfe');
    // In UTF-8 mode '&' is just a character.
    expect(decodeMailboxName(Buffer.from('A&B'), true)).toBe('A&B');
    expect(() => decodeMailboxName(Buffer.from('&Jjo!-'), false)).toThrow(MailboxNameError);
  });

  it('validates new names: no empty levels, no . or .., no wildcards', () => {
    for (const ok of ['a', 'a/b', 'Entwürfe', 'a b/c']) expect(() => validateNewName(ok), ok).not.toThrow();
    for (const bad of ['', '/a', 'a//b', 'a/', 'a/../b', '..', '.', 'a/./b', 'a*', 'b%', 'x\u0001', ' ', 'a/ /b', 'x'.repeat(600)])
      expect(() => validateNewName(bad), JSON.stringify(bad)).toThrow(MailboxNameError);
  });

  it('matches LIST patterns: * crosses levels, % does not, INBOX case-insensitive', () => {
    const names = ['INBOX', 'INBOX/a', 'Sent', 'a', 'a/b', 'a/b/c'];
    const m = (ref: string, pat: string) => names.filter(patternMatcher(ref, pat));
    expect(m('', '*')).toEqual(names);
    expect(m('', '%')).toEqual(['INBOX', 'Sent', 'a']);
    expect(m('a/', '%')).toEqual(['a/b']);
    expect(m('', 'a/%')).toEqual(['a/b']);
    expect(m('', 'inbox')).toEqual(['INBOX']);
    expect(m('', 'inbox/*')).toEqual(['INBOX/a']);
    expect(m('', 'S.nt')).toEqual([]);
    expect(m('', '*b*')).toEqual(['a/b', 'a/b/c']);
    expect(m('', '%/%')).toEqual(['INBOX/a', 'a/b']);
    expect(m('', 'a/%/c')).toEqual(['a/b/c']);
    expect(m('', '**/*')).toEqual(['INBOX/a', 'a/b', 'a/b/c']);
  });

  it('matches adversarial patterns in linear-ish time (no regex backtracking)', () => {
    const match = patternMatcher('', '*a'.repeat(60) + 'c');
    const t0 = performance.now();
    expect(match('a'.repeat(500))).toBe(false);
    expect(match('a'.repeat(500) + 'c')).toBe(true);
    expect(patternMatcher('', '%a'.repeat(60) + '%')('a'.repeat(500))).toBe(true);
    expect(patternMatcher('', '%a'.repeat(60) + '%')('a'.repeat(250) + '/' + 'a'.repeat(250))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(() => patternMatcher('', 'x'.repeat(2000))).toThrow(MailboxNameError);
    // More wildcards than MAX_PATTERN_WILDCARDS are refused rather than ground through.
    expect(() => patternMatcher('', '*a'.repeat(200) + 'c')).toThrow(MailboxNameError);
  });
});
