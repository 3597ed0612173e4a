/** The parts of `mailctl import` that need no server: folder mapping, batching, progress. */
import { describe, expect, it } from 'vitest';
import { planFolder, type SourceFolder } from '#core/import/folder-map.ts';
import { batches } from '#core/import/imap-import.ts';
import { ImportProgress, summaryLines } from '#core/import/progress.ts';
import { dedupKey } from '#core/import/dedup.ts';

const folder = (path: string, flags: string[] = [], delimiter = '/'): SourceFolder => ({ path, delimiter, flags, subscribed: false });

describe('folder mapping', () => {
  it('maps special-use folders by their RFC 6154 attribute, whatever their name', () => {
    expect(planFolder(folder('Gesendete Objekte', ['\\Sent']))).toMatchObject({ kind: 'copy', target: 'Sent', specialUse: '\\Sent' });
    expect(planFolder(folder('Corbeille', ['\\HasNoChildren', '\\Trash']))).toMatchObject({ target: 'Trash', specialUse: '\\Trash' });
  });

  it('maps unmarked folders by their common names (Exchange/WorkMail, Gmail, others)', () => {
    expect(planFolder(folder('Sent Items'))).toMatchObject({ target: 'Sent', specialUse: '\\Sent' });
    expect(planFolder(folder('Deleted Items'))).toMatchObject({ target: 'Trash' });
    expect(planFolder(folder('Junk E-mail'))).toMatchObject({ target: 'Junk' });
    expect(planFolder(folder('[Gmail]/Sent Mail'))).toMatchObject({ target: 'Sent' });
    expect(planFolder(folder('[Google Mail]/Bin'))).toMatchObject({ target: 'Trash' });
    expect(planFolder(folder('[Gmail]/Spam'))).toMatchObject({ target: 'Junk' });
    // Only at the top (or under [Gmail]): a project's "Sent" subfolder stays where it is.
    expect(planFolder(folder('Projects/Sent'))).toMatchObject({ target: 'Projects/Sent', specialUse: null });
  });

  it('imports Gmail All Mail into Archive de-duplicated, and skips views (Starred, Important)', () => {
    expect(planFolder(folder('[Gmail]/All Mail', ['\\All']))).toMatchObject({ target: 'Archive', allMail: true });
    expect(planFolder(folder('[Gmail]/Starred', ['\\Flagged'])).kind).toBe('skip');
    expect(planFolder(folder('[Gmail]/Important', ['\\Important'])).kind).toBe('skip');
    expect(planFolder(folder('[Gmail]', ['\\Noselect'])).kind).toBe('skip');
  });

  it('translates the hierarchy separator to ours; a "/" inside a source name becomes "-"', () => {
    expect(planFolder(folder('Work.Clients.ACME', [], '.'))).toMatchObject({ target: 'Work/Clients/ACME' });
    expect(planFolder(folder('Reports 2024/25', [], '.'))).toMatchObject({ target: 'Reports 2024-25' });
    expect(planFolder(folder('inbox'))).toMatchObject({ target: 'INBOX' });
  });
});

describe('UID FETCH batches', () => {
  it('cut at the message count and at the byte budget; a message bigger than the budget goes alone', () => {
    const m = (size: number) => ({ size });
    expect(batches([m(1), m(1), m(1)], 2, 100).map((b) => b.length)).toEqual([2, 1]);
    expect(batches([m(40), m(40), m(40)], 10, 100).map((b) => b.length)).toEqual([2, 1]);
    expect(batches([m(10), m(500), m(10)], 10, 100).map((b) => b.map((x) => x.size))).toEqual([[10], [500], [10]]);
  });
});

describe('de-duplication key', () => {
  it('is Message-ID (without angle brackets), size and INTERNALDATE to the second', () => {
    expect(dedupKey('<a@b>', 10, 1_000_400)).toBe(dedupKey(' a@b ', 10, 1_000_900));
    expect(dedupKey('<a@b>', 10, 1_000_000)).not.toBe(dedupKey('<a@b>', 11, 1_000_000));
    expect(dedupKey('<a@b>', 10, 1_000_000)).not.toBe(dedupKey('<a@b>', 10, 2_000_000));
  });
});

describe('import progress', () => {
  it('shows messages, MiB, rate and ETA overall and per running folder, on a live line and as JSON lines', () => {
    let now = 0;
    const json: string[] = [];
    const live: string[] = [];
    const p = new ImportProgress('imaps://u@h:993', 'a@example.test', {
      json: (l) => json.push(l),
      live: (l) => live.push(l),
      intervalMs: 1000,
      now: () => now,
    });
    p.planFolder('INBOX', 'INBOX', 4, 4 * 1024 * 1024);
    p.planFolder('Sent Items', 'Sent', 0, 0);
    p.planned();
    expect(JSON.parse(json[0])).toMatchObject({ event: 'plan', messages: 4, bytes: 4 * 1024 * 1024 });
    p.folderStarted('INBOX');
    now = 2000;
    p.copied('INBOX', 1024 * 1024);
    const line = JSON.parse(json.at(-1)!);
    expect(line).toMatchObject({
      event: 'progress',
      messages: 1,
      ofMessages: 4,
      bytesPerSecond: 524288,
      etaSeconds: 6,
      folders: [{ folder: 'INBOX', messages: 1, ofMessages: 4 }],
    });
    expect(live.at(-1)).toMatch(/25% 1\/4 msgs, 1\.0\/4\.0 MiB, 1 msg\/s 0\.5 MiB\/s, ETA 0:06 \| INBOX 1\/4/);
    // Throttled: nothing new within the interval.
    const count = json.length;
    now = 2500;
    p.copied('INBOX', 1024 * 1024);
    expect(json.length).toBe(count);
    p.failed('INBOX', '3', 'no longer at the source (expunged during the import)', 1024 * 1024);
    expect(JSON.parse(json.at(-1)!)).toMatchObject({ event: 'not-copied', folder: 'INBOX', uid: '3' });
    now = 4000;
    p.present('INBOX', 1024 * 1024);
    p.folderDone('INBOX');
    p.folderDone('Sent Items');
    const s = p.summary();
    expect(s).toMatchObject({ copied: 2, present: 1, bytes: 4 * 1024 * 1024, notCopied: [{ folder: 'INBOX', id: '3' }] });
    expect(s.folders).toEqual([
      { folder: 'INBOX', target: 'INBOX', copied: 2, present: 1, notCopied: 1, bytes: 4 * 1024 * 1024, error: null },
      { folder: 'Sent Items', target: 'Sent', copied: 0, present: 0, notCopied: 0, bytes: 0, error: null },
    ]);
    expect(live.at(-1)).toBe('');
    const text = summaryLines(s);
    expect(text).toContain('not copied: INBOX 3: no longer at the source (expunged during the import)');
    expect(text.at(-1)).toMatch(/^imported 2 messages \(4\.0 MiB seen\) into a@example\.test in 4\.0 s: 1 already present, 1 not copied/);
  });
});
