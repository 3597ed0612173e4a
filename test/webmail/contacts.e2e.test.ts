/**
 * The webmail's address book in a real browser (chromium), on JMAP for Contacts (RFC 9610),
 * with the same cards synced over CardDAV by Debian's vdirsyncer: add a message's sender to
 * contacts and get them suggested in a new message after two letters; a card made on the
 * "phone" (vdirsyncer's directory) shows in the page, an edit and a deletion made in the page
 * come back to that directory; groups.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWebmail } from '../../webmail/build.ts';
import { run } from '../support/clients.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { describeWithBrowser, launchBrowser, screenshotPath } from './support/browser.ts';
import { VDIRSYNCER, writeVdirsyncerConfig } from '../support/vdirsyncer.ts';

const USER = 'alice@example.test';
const PASSWORD = 'correct horse';

describeWithBrowser('webmail contacts in chromium, synced with vdirsyncer', () => {
  let ts: TestSystem;
  let browser: Browser;
  let page: Page;
  let buildDir: string;
  let work: string;
  let local: string;

  const vdirsyncer = async (...args: string[]) => {
    const r = await run(VDIRSYNCER, ['-c', path.join(work, 'config'), ...args], { input: 'y\ny\n', timeoutMs: 60_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  };
  const localCards = async () => Promise.all((await readdir(local)).map((f) => readFile(path.join(local, f), 'utf8')));
  const contactRow = (name: string) => page.getByRole('list', { name: 'Contacts' }).getByRole('listitem').filter({ hasText: name });
  const openContacts = async () => {
    await page.getByRole('button', { name: 'Contacts', exact: true }).click();
    await page.getByRole('heading', { name: 'Contacts' }).waitFor({ timeout: 10_000 });
  };

  beforeAll(async () => {
    if (!existsSync(VDIRSYNCER)) throw new Error('vdirsyncer is not installed: scripts/setup.sh --test installs it (apt-get install vdirsyncer)');
    buildDir = mkdtempSync(path.join(os.tmpdir(), 'webmail-build-'));
    await buildWebmail(path.join(buildDir, 'webmail'));
    ts = await startTestSystem({ env: { JMAP_ENABLED: 'true', WEBMAIL_DIR: path.join(buildDir, 'webmail') } });
    await ts.addUser(USER, PASSWORD);
    work = await mkdtemp(path.join(os.tmpdir(), 'vdirsyncer-webmail-'));
    await writeFile(path.join(work, 'cert.pem'), ts.system.deps.tls.cert);
    await writeVdirsyncerConfig(work, { url: `https://127.0.0.1:${ts.port('https')}/`, user: USER, password: PASSWORD, caFile: `${work}/cert.pem` });
    await vdirsyncer('discover');
    local = path.join(work, 'contacts', 'default');

    browser = await launchBrowser();
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    await page.goto(`https://127.0.0.1:${ts.port('https')}/`);
    await page.getByLabel('Email').fill(USER);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Mailboxes' }).getByRole('button', { name: /Inbox/ }).waitFor();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('adds the sender of a message to contacts; a new message suggests them after two letters', async () => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: ts.port('smtp-mx'), secure: false, ignoreTLS: true, name: 'client.test' });
    await t.sendMail({ from: 'Zoë Quinn <zoe.quinn@example.net>', to: USER, subject: 'Hello from Zoë', text: 'Nice to meet you.' });
    t.close();
    const row = page.locator('ul.messages li', { hasText: 'Hello from Zoë' });
    await row.waitFor({ timeout: 15_000 });
    await row.getByRole('button').click();
    await page.getByRole('button', { name: 'Add sender to contacts' }).click();
    await expect.poll(() => page.locator('.list .status').textContent(), { timeout: 10_000 }).toContain('Zoë Quinn added to your contacts.');
    // Zoë never got mail from us, so only the address book can suggest her.
    await page.getByRole('button', { name: 'Compose' }).click();
    await page.getByRole('combobox', { name: 'To', exact: true }).pressSequentially('Zo');
    const option = page.getByRole('listbox', { name: 'Suggestions' }).getByRole('option', { name: 'Zoë Quinn <zoe.quinn@example.net>' });
    await option.waitFor({ timeout: 10_000 });
    await page.screenshot({ path: screenshotPath('contacts-suggestion') });
    await option.click();
    expect(await page.getByRole('combobox', { name: 'To', exact: true }).inputValue()).toBe('Zoë Quinn <zoe.quinn@example.net>, ');
    await page.getByRole('button', { name: 'Discard' }).click();
    // The card is the phone's too.
    await vdirsyncer('sync');
    expect((await localCards()).some((c) => /EMAIL[^:]*:zoe\.quinn@example\.net/.test(c) && c.includes('Zoë Quinn'))).toBe(true);
  });

  it('a card made on the phone shows in the page; an edit and a deletion made in the page come back to the phone', async () => {
    await writeFile(
      path.join(local, 'phone-1.vcf'),
      'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:phone-1\r\nFN:Pat Phone\r\nN:Phone;Pat;;;\r\nEMAIL;TYPE=INTERNET:pat@old.example\r\nTEL;TYPE=CELL:+1 555 0100\r\nEND:VCARD\r\n',
    );
    await vdirsyncer('sync');
    await openContacts();
    await contactRow('Pat Phone').waitFor({ timeout: 10_000 });
    expect(await contactRow('Pat Phone').textContent()).toContain('pat@old.example');
    await page.getByRole('button', { name: 'Edit Pat Phone' }).click();
    expect(await page.getByLabel('Phone').inputValue()).toBe('+1 555 0100');
    await page.getByLabel('Email address').fill('pat@new.example');
    await page.getByLabel('Organisation').fill('Phone Works');
    await page.getByRole('form', { name: 'Edit contact' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => contactRow('Pat Phone').textContent(), { timeout: 10_000 }).toContain('pat@new.example');
    await page.screenshot({ path: screenshotPath('contacts') });
    await vdirsyncer('sync');
    const pat = (await localCards()).find((c) => c.includes('Pat Phone'));
    expect(pat).toMatch(/EMAIL[^:\r\n]*:pat@new\.example/);
    expect(pat).not.toContain('pat@old.example');
    expect(pat).toMatch(/ORG[^:\r\n]*:Phone Works/);
    expect(pat).toMatch(/TEL[^:\r\n]*:\+1 555 0100/); // what the page did not touch stays

    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete Pat Phone' }).click();
    await expect.poll(() => contactRow('Pat Phone').count(), { timeout: 10_000 }).toBe(0);
    await vdirsyncer('sync');
    expect((await localCards()).some((c) => c.includes('Pat Phone'))).toBe(false);
  });

  it('creates a contact with the form, puts them in a new group, and finds them by part of the name', async () => {
    page.once('dialog', (d) => void d.accept('Book club'));
    await page.getByRole('button', { name: 'New group' }).click();
    await contactRow('Book club').waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'New contact' }).click();
    await page.getByLabel('Name').fill('Robin Reader');
    await page.getByLabel('Email address').fill('robin@example.org');
    await page.getByLabel('Book club').check();
    await page.getByRole('form', { name: 'New contact' }).getByRole('button', { name: 'Save' }).click();
    await contactRow('Robin Reader').waitFor({ timeout: 10_000 });
    await expect.poll(() => contactRow('Book club').textContent(), { timeout: 10_000 }).toContain('group of 1');
    await page.getByLabel('Find a contact').fill('read');
    await expect.poll(() => page.getByRole('list', { name: 'Contacts' }).getByRole('listitem').count(), { timeout: 10_000 }).toBe(1);
    // A form without a name or an address is refused in the page.
    await page.getByLabel('Find a contact').fill('');
    await page.getByRole('button', { name: 'New contact' }).click();
    await page.getByRole('form', { name: 'New contact' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByRole('form', { name: 'New contact' }).getByRole('status').textContent()).toContain('needs a name or an email address');
    await page.getByRole('button', { name: 'Cancel' }).click();
    await vdirsyncer('sync');
    const cards = await localCards();
    const group = cards.find((c) => c.includes('Book club'));
    const robin = cards.find((c) => c.includes('Robin Reader'));
    expect(robin).toBeDefined();
    const uid = /^UID:(.+)$/m.exec(robin!)![1].trim();
    expect(group).toMatch(/KIND:group/i);
    expect(group).toContain(uid); // MEMBER:urn:uuid:… (RFC 6350 §6.6.5)
  });
});
