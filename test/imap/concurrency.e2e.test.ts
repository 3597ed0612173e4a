/**
 * Several sessions on one mailbox (docs/architecture.md, "The IMAP session"): one expunging while another fetches
 * never sees inconsistent sequence numbers; EXPUNGE is withheld during FETCH/STORE/SEARCH and
 * told at NOOP; random concurrent work keeps every session's seq↔UID view consistent.
 * The key scenario runs on both adapter sets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADAPTER_KINDS } from '../support/mail-system.ts';
import { RawImap } from './support/raw-client.ts';
import { sampleMessage, startImapSystem, type ImapTestSystem } from './support/imap-system.ts';
import { ViewChecker } from './support/view-checker.ts';

class Client {
  readonly c: RawImap;
  readonly view: ViewChecker;
  constructor(c: RawImap, name: string) {
    this.c = c;
    this.view = new ViewChecker(name);
  }
  async run(cmd: string) {
    const r = await this.c.command(cmd, 15_000);
    this.view.apply(r.untagged, cmd);
    return r;
  }
}

async function open(sys: ImapTestSystem, name: string): Promise<Client> {
  const cl = new Client(await RawImap.login(sys.port, sys.user, sys.password), name);
  const r = await cl.run('SELECT INBOX');
  expect(r.tagged).toMatch(/OK/);
  await cl.run('FETCH 1:* (UID)');
  return cl;
}

describe.each(ADAPTER_KINDS)('two sessions, one expunging while the other fetches (%s adapters)', (kind) => {
  let sys: ImapTestSystem;
  beforeAll(async () => {
    sys = await startImapSystem(kind);
    for (let i = 1; i <= 10; i++) await sys.deliver(sampleMessage(`m${i}`));
  }, 60_000);
  afterAll(async () => {
    await sys?.stop();
  });

  it('keeps the fetching session on its old numbering until a NOOP tells it (RFC 3501 §7.4.1)', async () => {
    const a = await open(sys, 'A');
    const b = await open(sys, 'B');
    expect(a.view.uids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    await b.run('STORE 2:4,8 +FLAGS.SILENT (\\Deleted)');
    const ex = await b.run('EXPUNGE');
    expect(ex.untagged).toEqual(['* 8 EXPUNGE', '* 4 EXPUNGE', '* 3 EXPUNGE', '* 2 EXPUNGE']);

    // A fetches by sequence number: no EXPUNGE, numbers unchanged; the expunged ones come from
    // its view for FLAGS, and are refused with EXPUNGEISSUED when data must be read.
    const f = await a.run('FETCH 1:10 (UID FLAGS)');
    expect(f.untagged).toHaveLength(10);
    expect(a.view.uids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const g = await a.run('FETCH 1:10 (UID RFC822.SIZE)');
    expect(g.tagged).toMatch(/NO \[EXPUNGEISSUED\]/);
    expect(g.untagged.map((l) => Number(/UID (\d+)/.exec(l)![1]))).toEqual([1, 5, 6, 7, 9, 10]);
    const s = await a.run('SEARCH ALL');
    expect(s.untagged).toEqual(['* SEARCH 1 5 6 7 9 10']);
    const st = await a.run('STORE 9 +FLAGS (\\Flagged)');
    expect(st.untagged).toEqual(['* 9 FETCH (FLAGS (\\Flagged))']);
    // NOOP is where A learns of the expunges.
    const n = await a.run('NOOP');
    expect(n.untagged.filter((l) => l.endsWith('EXPUNGE'))).toEqual(['* 8 EXPUNGE', '* 4 EXPUNGE', '* 3 EXPUNGE', '* 2 EXPUNGE']);
    expect(a.view.uids).toEqual([1, 5, 6, 7, 9, 10]);
    // B hears of A's flag change.
    const bn = await b.run('NOOP');
    expect(bn.untagged).toContain('* 5 FETCH (UID 9 FLAGS (\\Flagged))');
    a.c.close();
    b.c.close();
  });

  it('lets a UID FETCH hear of expunges first, with the new numbers in its responses', async () => {
    const a = await open(sys, 'A');
    const b = await open(sys, 'B');
    await b.run('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await b.run('EXPUNGE');
    const r = await a.run('UID FETCH 1:* (FLAGS)');
    expect(r.untagged[0]).toBe('* 1 EXPUNGE');
    expect(r.untagged[1]).toMatch(/^\* 1 FETCH \(UID 5 /);
    a.c.close();
    b.c.close();
  });

  it('keeps every session consistent under random concurrent work', async () => {
    const clients = await Promise.all(['P', 'Q', 'R'].map((n) => open(sys, n)));
    let seed = kind === 'local' ? 11 : 13;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const steps = kind === 'local' ? 60 : 25;
    await Promise.all(
      clients.map(async (cl) => {
        for (let i = 0; i < steps; i++) {
          const count = cl.view.uids.length;
          const seq = count > 0 ? 1 + Math.floor(rnd() * count) : 0;
          const pick = rnd();
          if (pick < 0.15) await sys.deliver(sampleMessage(`r${i}`));
          else if (pick < 0.3 && seq) await cl.run(`STORE ${seq} +FLAGS (\\Deleted)`);
          else if (pick < 0.4) await cl.run('EXPUNGE');
          else if (pick < 0.55) await cl.run('FETCH 1:* (UID FLAGS)');
          else if (pick < 0.65) await cl.run('UID FETCH 1:* (FLAGS)');
          else if (pick < 0.75 && seq) await cl.run(`FETCH ${seq} (UID RFC822.SIZE)`);
          else if (pick < 0.85) await cl.run('SEARCH UNDELETED');
          else if (pick < 0.9 && seq) await cl.run(`MOVE ${seq} Archive`);
          else await cl.run('NOOP');
        }
        await cl.run('NOOP');
        await cl.run('FETCH 1:* (UID)');
      }),
    );
    const truth = await sys.uids('INBOX');
    for (const cl of clients) {
      await cl.run('NOOP');
      await cl.run('FETCH 1:* (UID)');
      expect(cl.view.uids).toEqual(truth);
      cl.c.close();
    }
  }, 60_000);
});
