/**
 * A real browser for the webmail tests: Debian's chromium (CHROMIUM_PATH, default
 * /usr/bin/chromium; scripts/setup.sh --test installs it), driven by playwright-core, which
 * downloads no browser of its own. Without chromium the suites are skipped with the reason in
 * their name; with CI set that is a failure instead (as for Dovecot, test/support/dovecot.ts).
 *
 * Screenshots go to test-artifacts/webmail/ (ignored by git).
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { describe, it } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const ARTIFACTS = path.resolve(import.meta.dirname, '../../../test-artifacts/webmail');

export function describeWithBrowser(name: string, fn: () => void): void {
  if (existsSync(CHROMIUM)) describe(name, fn);
  else if (process.env.CI)
    describe(name, () => {
      it('needs chromium', () => {
        throw new Error(`chromium is not installed at ${CHROMIUM}: scripts/setup.sh --test installs it`);
      });
    });
  else describe.skip(`${name} (skipped: chromium is not installed at ${CHROMIUM}; scripts/setup.sh --test installs it; with CI set this fails)`, fn);
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI containers has no user namespaces for chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
}

export function screenshotPath(name: string): string {
  mkdirSync(ARTIFACTS, { recursive: true });
  return path.join(ARTIFACTS, `${name}.png`);
}
