/**
 * Dovecot for the import tests (test/support/dovecot-server.ts). When Dovecot is not installed
 * the suites are skipped with the reason in their name; with CI set that is a failure at load
 * instead (like the corpus, test/support/corpus.ts).
 */
import { describe, it } from 'vitest';
import { DOVECOT_BIN, dovecotInstalled } from './dovecot-server.ts';

export * from './dovecot-server.ts';

export function describeWithDovecot(name: string, fn: () => void): void {
  if (dovecotInstalled()) describe(name, fn);
  else if (process.env.CI)
    describe(name, () => {
      it('needs Dovecot', () => {
        throw new Error(`Dovecot is not installed at ${DOVECOT_BIN}: scripts/setup.sh --test installs it`);
      });
    });
  else describe.skip(`${name} (skipped: Dovecot is not installed at ${DOVECOT_BIN}; scripts/setup.sh --test installs it; with CI set this fails)`, fn);
}
