/**
 * An IMAP conformance run of our own (issue 16): the same scenario groups (./groups) against our
 * server and against Debian's Dovecot 2.3, over TLS on loopback, each group on a fresh user. A
 * group runs when the server announces the capabilities it needs and is skipped otherwise;
 * every command of a group that runs must get the answer the RFC examples show, so each
 * scenario is proven right by a server we did not write. The last test holds the goal: our
 * server skips no group that Dovecot runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithDovecot } from '../../support/dovecot.ts';
import type { Group } from './group.ts';
import { GROUPS } from './groups/index.ts';
import { startDovecotUnderTest, startOurs, type ServerUnderTest } from './servers.ts';

type Outcome = 'passed' | 'skipped' | 'failed';
const outcomes: Record<string, Map<string, Outcome>> = { ours: new Map(), Dovecot: new Map() };
/** What each server announced after login, for the report. */
const announcedBy: Record<string, Set<string>> = { ours: new Set(), Dovecot: new Set() };

async function runGroup(server: ServerUnderTest, g: Group): Promise<Outcome> {
  const account = await server.newUser();
  const c = await server.login(account);
  for (const cap of c.caps) announcedBy[server.name].add(cap);
  const opened = [c];
  try {
    const announced = (cap: string) => (cap.endsWith('=') ? [...c.caps].some((x) => x.startsWith(cap.toUpperCase())) : c.caps.has(cap.toUpperCase()));
    const missing = g.requires.filter((cap) => !announced(cap));
    if (missing.length) return 'skipped';
    await g.run({
      c,
      connect: async () => {
        const other = await server.login(account);
        opened.push(other);
        return other;
      },
    });
    return 'passed';
  } finally {
    for (const o of opened) o.close();
  }
}

function suite(name: 'ours' | 'Dovecot', start: () => Promise<ServerUnderTest>) {
  describe(`conformance groups against ${name}`, () => {
    let server: ServerUnderTest;
    beforeAll(async () => {
      server = await start();
    });
    afterAll(async () => {
      await server?.stop();
    });
    for (const g of GROUPS) {
      // A server that does not announce what the group needs is not a failure here: the outcome
      // "skipped" goes into the table, and the last test holds ours to Dovecot's set of groups.
      it(`${g.name}${g.requires.length ? ` (when announced: ${g.requires.join(' ')})` : ''}: ${g.rfc}`, async () => {
        outcomes[name].set(g.name, 'failed');
        outcomes[name].set(g.name, await runGroup(server, g));
      });
    }
  });
}

describeWithDovecot('IMAP conformance scenarios, ours and Dovecot 2.3', () => {
  suite('ours', startOurs);
  suite('Dovecot', () => startDovecotUnderTest(GROUPS.length));

  it('our server runs every group Dovecot runs, and every group that runs passes on both', () => {
    const table = GROUPS.map((g) => `${g.name.padEnd(28)} ours: ${outcomes.ours.get(g.name) ?? '-'}  Dovecot: ${outcomes.Dovecot.get(g.name) ?? '-'}`);
    const only = (a: string, b: string) => [...announcedBy[a]].filter((x) => !announcedBy[b].has(x)).join(' ');
    console.log(
      `conformance groups:\n${table.join('\n')}\nannounced by Dovecot only: ${only('Dovecot', 'ours')}\nannounced by ours only: ${only('ours', 'Dovecot')}`,
    );
    const skippedByOursOnly = GROUPS.filter((g) => outcomes.ours.get(g.name) === 'skipped' && outcomes.Dovecot.get(g.name) !== 'skipped').map((g) => g.name);
    expect(skippedByOursOnly).toEqual([]);
    const failed = GROUPS.flatMap((g) =>
      (['ours', 'Dovecot'] as const)
        .filter((s) => outcomes[s].get(g.name) !== 'passed' && outcomes[s].get(g.name) !== 'skipped')
        .map((s) => `${g.name} (${s})`),
    );
    expect(failed).toEqual([]);
  });
});
