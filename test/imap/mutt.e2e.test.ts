/**
 * mutt (a client we did not write) with its header cache over IMAPS, using CONDSTORE and, in
 * a second case, QRESYNC (RFC 7162). The first visit fetches every header and fills the
 * cache; after another client (imapflow) flags one message and expunges another and a new
 * message arrives, the second visit SELECTs with CONDSTORE, asks only for the flags changed
 * since the cached HIGHESTMODSEQ (with QRESYNC also for what VANISHED, instead of listing the
 * UIDs) and fetches headers only for the new message. What mutt then saw is checked by having
 * it copy the whole folder into a local mbox (its Status/X-Status lines carry its flags).
 *
 * mutt needs a terminal: it runs under script(1) with a pushed key sequence that copies every
 * message and quits. Its debug log (-d 2, in $HOME/.muttdebug0) holds the IMAP exchange, both
 * directions (literals excepted).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../support/clients.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';

/** The IMAP lines of a mutt debug log: `>` sent by mutt, `<` sent by the server. */
function exchange(log: string): { dir: '>' | '<'; line: string }[] {
  const out: { dir: '>' | '<'; line: string }[] = [];
  let last: '>' | '<' | undefined;
  for (const l of log.split(/\r?\n/)) {
    const m = /^\[[^\]]+\] \d+([<>]) (.*)$/.exec(l);
    if (m) {
      last = m[1] as '>' | '<';
      out.push({ dir: last, line: m[2] });
    } else if (last === '>' && /^[a-z]\d{4} /.test(l)) {
      out.push({ dir: '>', line: l }); // pipelined commands are logged in one write
    }
  }
  return out;
}

/** The messages of an mbox written by mutt: subject and the flag letters of Status/X-Status. */
function mboxMessages(file: string): { subject: string; flags: string }[] {
  return readFileSync(file, 'latin1')
    .split(/^From .*\n/m)
    .filter((m) => m.trim())
    .map((m) => {
      const header = m.split('\n\n')[0];
      const status = /^Status: (.*)$/m.exec(header)?.[1] ?? '';
      const xstatus = /^X-Status: (.*)$/m.exec(header)?.[1] ?? '';
      return { subject: /^Subject: (.*)$/m.exec(header)![1], flags: [...(status + xstatus)].sort().join('') };
    })
    .sort((a, b) => a.subject.localeCompare(b.subject));
}

describe('mutt header cache with CONDSTORE/QRESYNC (RFC 7162)', () => {
  let sys: ImapTestSystem;
  let dir: string;
  beforeAll(async () => {
    sys = await startImapSystem('local');
    dir = mkdtempSync(path.join(os.tmpdir(), 'imap-mutt-'));
    // The listener's self-signed certificate, trusted as mutt's certificate_file.
    writeFileSync(path.join(dir, 'certificates'), readFileSync(path.join(sys.ts.dataDir, 'tls', 'cert.pem')));
  });
  afterAll(async () => {
    await sys?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A mutt set-up for one mailbox: its own $HOME, muttrc and header cache directory. */
  function muttFor(mailbox: string, qresync: boolean) {
    const home = path.join(dir, mailbox);
    const hcache = path.join(home, 'hcache');
    mkdirSync(hcache, { recursive: true });
    const rc = path.join(home, 'muttrc');
    writeFileSync(
      rc,
      [
        `set folder="imaps://127.0.0.1:${sys.tlsPort}/"`,
        `set spoolfile="+${mailbox}"`,
        `set imap_user="${sys.user}"`,
        `set imap_pass="${sys.password}"`,
        `set header_cache="${hcache}/"`,
        'set imap_condstore=yes',
        `set imap_qresync=${qresync ? 'yes' : 'no'}`,
        `set certificate_file="${path.join(dir, 'certificates')}"`,
        'set ssl_verify_host=no',
        // No prompts, and nothing mutt would write back on leaving (mark_old stores "Old").
        'set mbox_type=mbox confirmappend=no confirmcreate=no quit=yes move=no mark_old=no',
        '',
      ].join('\n'),
    );
    let visits = 0;
    /** Opens the mailbox, copies every message into a local mbox, quits; returns the IMAP exchange and the mbox. */
    return async () => {
      const out = path.join(home, `copy-${++visits}.mbox`);
      const keys = `<tag-pattern>~A<enter><tag-prefix><copy-message>${out}<enter><quit>`;
      const r = await run('script', ['-qec', `mutt -n -F '${rc}' -d 2 -e 'push "${keys}"'`, '/dev/null'], {
        timeoutMs: 20_000,
        env: { ...process.env, HOME: home, TERM: 'xterm' },
      });
      expect(r.code).toBe(0);
      const log = readFileSync(path.join(home, '.muttdebug0'), 'utf8');
      return { lines: exchange(log), messages: existsSync(out) ? mboxMessages(out) : [], hcacheFiles: readdirSync(hcache, { recursive: true }).map(String) };
    };
  }

  /** Another device: flags "two", expunges "three"; then "four" is delivered. */
  async function changeElsewhere(mailbox: string, uids: Map<string, number>) {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: sys.port,
      secure: false,
      auth: { user: sys.user, pass: sys.password },
      logger: false,
      tls: { rejectUnauthorized: false },
    });
    await c.connect();
    try {
      await c.mailboxOpen(mailbox);
      await c.messageFlagsAdd(String(uids.get('two')), ['\\Flagged'], { uid: true });
      await c.messageDelete(String(uids.get('three')), { uid: true });
    } finally {
      await c.logout();
    }
    uids.set('four', await sys.deliver(sampleMessage('four'), mailbox));
  }

  const headerFetches = (lines: { dir: string; line: string }[]) => lines.filter((l) => l.dir === '>' && /BODY\.PEEK\[HEADER\.FIELDS/.test(l.line));
  const highestModseq = async (mailbox: string) => {
    const mb = (await sys.ts.adapters.index.getMailbox(sys.user, mailbox))!;
    return (await sys.ts.adapters.index.mailboxState(sys.user, mb.id))!.highestModseq;
  };

  async function firstVisit(mailbox: string, qresync: boolean) {
    const uids = new Map<string, number>();
    for (const s of ['one', 'two', 'three']) uids.set(s, await sys.deliver(sampleMessage(s), mailbox));
    await sys.deliver(sampleMessage('seen'), mailbox, ['\\Seen']).then((u) => uids.set('seen', u));
    const visit = muttFor(mailbox, qresync);
    const first = await visit();
    // Every header fetched once, into the cache.
    expect(headerFetches(first.lines)).toHaveLength(1);
    expect(headerFetches(first.lines)[0].line).toMatch(/ FETCH 1:4 \(UID FLAGS /);
    expect(first.lines.filter((l) => l.dir === '<' && /^\* \d+ FETCH \(UID \d+ FLAGS .*BODY\[HEADER\.FIELDS/.test(l.line))).toHaveLength(4);
    expect(first.hcacheFiles).toContainEqual(expect.stringMatching(new RegExp(`/${mailbox}\\.hcache$`)));
    expect(first.messages).toEqual([
      { subject: 'one', flags: '' },
      { subject: 'seen', flags: 'OR' },
      { subject: 'three', flags: '' },
      { subject: 'two', flags: '' },
    ]);
    return { visit, uids, modseq: await highestModseq(mailbox) };
  }

  it('with CONDSTORE, a second visit fetches only flags changed since the cached HIGHESTMODSEQ (§3.1.4.1) and headers only of the new message', async () => {
    const { visit, uids, modseq } = await firstVisit('INBOX', false);
    await changeElsewhere('INBOX', uids);

    const second = await visit();
    const sent = second.lines.filter((l) => l.dir === '>').map((l) => l.line);
    expect(sent).toContainEqual(expect.stringMatching(/^a\d{4} SELECT "INBOX" \(CONDSTORE\)$/));
    // The UIDs of the messages it knows (no flags, no headers: those come from its cache) ...
    expect(sent).toContainEqual(expect.stringMatching(/^a\d{4} UID FETCH 1:\d+ \(UID\)$/));
    // ... the flags changed since the mod-sequence it cached ...
    const changedSince = sent.find((l) => /CHANGEDSINCE/.test(l));
    expect(changedSince).toMatch(new RegExp(`^a\\d{4} UID FETCH 1:\\d+ \\(FLAGS\\) \\(CHANGEDSINCE ${modseq}\\)$`));
    const tag = changedSince!.split(' ')[0];
    const answer = second.lines.slice(second.lines.findIndex((l) => l.line === changedSince) + 1);
    const untilDone = answer.slice(0, answer.findIndex((l) => l.line.startsWith(`${tag} `)) + 1);
    // ... to which the server answers with the flagged message only, and its new MODSEQ.
    expect(untilDone.map((l) => l.line)).toEqual([
      expect.stringMatching(new RegExp(`^\\* \\d+ FETCH \\(UID ${uids.get('two')} FLAGS \\(\\\\Flagged\\) MODSEQ \\(\\d+\\)\\)$`)),
      `${tag} OK UID FETCH completed`,
    ]);
    // Headers for the new message alone.
    const fetches = headerFetches(second.lines);
    expect(fetches).toHaveLength(1);
    expect(fetches[0].line).toMatch(/ FETCH 4 \(UID FLAGS /);

    expect(second.messages).toEqual([
      { subject: 'four', flags: '' },
      { subject: 'one', flags: '' },
      { subject: 'seen', flags: 'OR' },
      { subject: 'two', flags: 'F' },
    ]);
  });

  it('with QRESYNC, a second visit rebuilds the list from its cache and asks UID FETCH (CHANGEDSINCE n VANISHED) what vanished and changed (§3.2.3, §3.2.6), fetching headers only of the new message', async () => {
    const { visit, uids, modseq } = await firstVisit('Archive', true);
    await changeElsewhere('Archive', uids);

    const second = await visit();
    const sent = second.lines.filter((l) => l.dir === '>').map((l) => l.line);
    expect(sent).toContainEqual(expect.stringMatching(/^a\d{4} ENABLE QRESYNC$/));
    expect(second.lines).toContainEqual({ dir: '<', line: '* ENABLED QRESYNC' });
    // mutt 2.2 selects with CONDSTORE (not the QRESYNC parameter) and takes the UIDs it knew from its cache ...
    expect(sent).toContainEqual(expect.stringMatching(/^a\d{4} SELECT "Archive" \(CONDSTORE\)$/));
    expect(sent.filter((l) => /FETCH 1:\d+ \(UID/.test(l))).toEqual([]);
    // ... then asks for what changed and vanished since the mod-sequence it cached.
    const vanished = sent.find((l) => /CHANGEDSINCE/.test(l));
    expect(vanished).toMatch(new RegExp(`^a\\d{4} UID FETCH 1:\\d+ \\(FLAGS\\) \\(CHANGEDSINCE ${modseq} VANISHED\\)$`));
    const tag = vanished!.split(' ')[0];
    const answer = second.lines.slice(second.lines.findIndex((l) => l.line === vanished) + 1);
    expect(answer.slice(0, answer.findIndex((l) => l.line.startsWith(`${tag} `)) + 1).map((l) => l.line)).toEqual([
      `* VANISHED (EARLIER) ${uids.get('three')}`,
      expect.stringMatching(new RegExp(`^\\* \\d+ FETCH \\(UID ${uids.get('two')} FLAGS \\(\\\\Flagged\\) MODSEQ \\(\\d+\\)\\)$`)),
      `${tag} OK UID FETCH completed`,
    ]);
    const fetches = headerFetches(second.lines);
    expect(fetches).toHaveLength(1);
    expect(fetches[0].line).toMatch(/ FETCH 4 \(UID FLAGS /);

    expect(second.messages).toEqual([
      { subject: 'four', flags: '' },
      { subject: 'one', flags: '' },
      { subject: 'seen', flags: 'OR' },
      { subject: 'two', flags: 'F' },
    ]);
  });
});
