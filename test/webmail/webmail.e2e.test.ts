/**
 * The webmail in a real browser (Debian's chromium through playwright-core): the page the
 * HTTPS listener serves at `/`, signed in with the address and password, on the JMAP API of a
 * whole local mail system. Mail arrives by SMTP (nodemailer) and what the page did is checked
 * over IMAP (imapflow): the same mailbox on every face.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildWebmail } from '../../webmail/build.ts';
import { eventually, startTestSystem, type TestSystem } from '../support/mail-system.ts';
import { describeWithBrowser, launchBrowser, screenshotPath } from './support/browser.ts';

const USER = 'alice@example.test';
const PASSWORD = 'correct horse';
const OTHER = 'bob@example.test';

describeWithBrowser('webmail in chromium', () => {
  let ts: TestSystem;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let base: string;
  let buildDir: string;
  /** A "remote" web server on another loopback address: every request it sees is a leak. */
  let beacon: Server;
  let beaconUrl: string;
  const beaconHits: string[] = [];

  const send = async (o: { from?: string; to?: string; subject: string; text?: string; html?: string; messageId?: string; references?: string }) => {
    const t = nodemailer.createTransport({ host: '127.0.0.1', port: ts.port('smtp-mx'), secure: false, ignoreTLS: true, name: 'client.test' });
    try {
      await t.sendMail({
        from: o.from ?? 'Carol Sender <carol@example.net>',
        to: o.to ?? USER,
        subject: o.subject,
        text: o.text,
        html: o.html,
        messageId: o.messageId,
        ...(o.references ? { references: o.references, inReplyTo: o.references } : {}),
      });
    } finally {
      t.close();
    }
  };
  const imap = async <T>(fn: (c: ImapFlow) => Promise<T>, user = USER, pass = PASSWORD): Promise<T> => {
    const c = new ImapFlow({
      host: '127.0.0.1',
      port: ts.port('imaps'),
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user, pass },
      logger: false,
    });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.logout();
    }
  };
  /** Subjects in an IMAP mailbox, with their flags. */
  const imapList = (mailbox: string) =>
    imap(async (c) => {
      const lock = await c.getMailboxLock(mailbox);
      try {
        const out: Array<{ subject: string; flags: string[] }> = [];
        if ((c.mailbox as { exists: number }).exists === 0) return out;
        for await (const m of c.fetch('1:*', { envelope: true, flags: true })) out.push({ subject: m.envelope!.subject ?? '', flags: [...m.flags!] });
        return out;
      } finally {
        lock.release();
      }
    });
  const row = (subject: string) => page.locator('ul.messages li', { hasText: subject });
  const signIn = async () => {
    await page.goto(base + '/');
    await page.getByLabel('Email').fill(USER);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Mailboxes' }).getByRole('button', { name: /Inbox/ }).waitFor();
  };

  beforeAll(async () => {
    buildDir = mkdtempSync(path.join(os.tmpdir(), 'webmail-build-'));
    await buildWebmail(path.join(buildDir, 'webmail'));
    ts = await startTestSystem({ env: { JMAP_ENABLED: 'true', WEBMAIL_DIR: path.join(buildDir, 'webmail') } });
    await ts.addUser(USER, PASSWORD);
    await ts.addUser(OTHER, PASSWORD);
    base = `https://127.0.0.1:${ts.port('https')}`;
    beacon = createServer((req, res) => {
      beaconHits.push(req.url ?? '');
      res.writeHead(200, { 'content-type': 'image/gif' });
      res.end(Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64'));
    });
    await new Promise<void>((r) => beacon.listen(0, '127.0.0.2', r));
    beaconUrl = `http://127.0.0.2:${(beacon.address() as AddressInfo).port}`;
    browser = await launchBrowser();
    context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await ts?.stop();
    await new Promise((r) => beacon?.close(r));
    if (buildDir) rmSync(buildDir, { recursive: true, force: true });
  });

  it('serves the page with a strict Content-Security-Policy and immutable hashed assets', async () => {
    const response = await page.goto(base + '/');
    expect(response!.status()).toBe(200);
    const csp = response!.headers()['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(response!.headers()['cache-control']).toBe('no-cache');
    const script = await page.locator('script[type=module]').getAttribute('src');
    expect(script).toMatch(/^\/assets\/app-[A-Za-z0-9_-]{12}\.js$/);
    const asset = await page.request.get(base + script!);
    expect(asset.headers()['cache-control']).toContain('immutable');
  });

  it('refuses a wrong password with a clear message, then signs in with the right one', async () => {
    await page.goto(base + '/');
    await page.getByLabel('Email').fill(USER);
    await page.getByLabel('Password').fill('wrong password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 10_000 }).toContain('Wrong email or password');
    await page.screenshot({ path: screenshotPath('sign-in-error') });
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('navigation', { name: 'Mailboxes' }).getByRole('button', { name: /Inbox/ }).waitFor();
    for (const name of ['Inbox', 'Drafts', 'Sent', 'Archive', 'Junk', 'Trash'])
      await expect
        .poll(() =>
          page
            .getByRole('navigation', { name: 'Mailboxes' })
            .getByRole('button', { name: new RegExp(name) })
            .count(),
        )
        .toBe(1);
  });

  it('shows a message that arrived by SMTP; opening it shows the body and marks it \\Seen over IMAP', async () => {
    await send({ subject: 'Lunch on Friday', text: 'Shall we meet at the harbour at noon?\nCarol' });
    await row('Lunch on Friday').waitFor({ timeout: 15_000 });
    await expect.poll(() => row('Lunch on Friday').getAttribute('class'), { timeout: 10_000 }).toContain('unread');
    await page.screenshot({ path: screenshotPath('inbox') });
    await row('Lunch on Friday').getByRole('button').click();
    await expect.poll(() => page.locator('.reader').textContent(), { timeout: 10_000 }).toContain('Shall we meet at the harbour at noon?');
    await page.screenshot({ path: screenshotPath('message') });
    await eventually(async () => (await imapList('INBOX')).find((m) => m.subject === 'Lunch on Friday' && m.flags.includes('\\Seen')));
  });

  it('a message arriving by SMTP appears in the open page without reload, and the unread count is in the title', async () => {
    await page.evaluate(() => ((globalThis as unknown as { marker: number }).marker = 42));
    await send({ subject: 'Pushed while open', text: 'no reload needed' });
    await row('Pushed while open').waitFor({ timeout: 10_000 });
    expect(await page.evaluate(() => (globalThis as unknown as { marker: number }).marker)).toBe(42);
    await expect.poll(() => page.title(), { timeout: 10_000 }).toMatch(/^\(1\) Inbox/);
  });

  it('Archive moves the open message: gone from INBOX over IMAP, in Archive', async () => {
    await row('Pushed while open').getByRole('button').click();
    await page.getByRole('toolbar', { name: 'Actions' }).getByRole('button', { name: 'Archive' }).click();
    await expect.poll(() => row('Pushed while open').count(), { timeout: 10_000 }).toBe(0);
    await eventually(async () => !(await imapList('INBOX')).some((m) => m.subject === 'Pushed while open'));
    expect((await imapList('Archive')).map((m) => m.subject)).toContain('Pushed while open');
  });

  it('search finds a message by a word in its body', async () => {
    await send({ subject: 'Quarterly figures', text: 'The turnover rose by a zeppelin-sized margin.' });
    await row('Quarterly figures').waitFor({ timeout: 10_000 });
    await page.getByLabel('Search').fill('zeppelin');
    await page.getByRole('search').getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('ul.messages li').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.locator('ul.messages li').textContent()).toContain('Quarterly figures');
    await page.getByLabel('Search').fill('');
    await page.getByRole('search').getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('ul.messages li').count(), { timeout: 10_000 }).toBeGreaterThan(1);
  });

  it('hostile HTML: no script runs and nothing is fetched from a remote host until the reader allows remote content', async () => {
    const b = beaconUrl;
    const hostile = [
      `<p id="visible">Quarterly newsletter</p>`,
      `<script>parent.document.title='pwned-script';fetch('${b}/script')</script>`,
      `<img src="${b}/img-remote" alt="tracker">`,
      `<img src=x onerror="parent.document.title='pwned-onerror';fetch('${b}/onerror')">`,
      `<a href="https://example.org/safe">safe link</a>`,
      `<a href="javascript:parent.document.title='pwned-link'">click</a>`,
      `<a href="data:text/html,<script>alert(1)</script>">data link</a>`,
      `<svg><script>parent.document.title='pwned-svg'</script><image href="${b}/svg-image"/></svg>`,
      `<div style="background:url('${b}/css-url')">bg</div>`,
      `<style>@import url('${b}/css-import'); body{background:url(${b}/css-body)}</style>`,
      `<meta http-equiv="refresh" content="0;url=${b}/refresh">`,
      `<base href="${b}/base/">`,
      `<form action="${b}/form"><input name="q" value="x"><button>go</button></form>`,
      `<iframe src="${b}/iframe"></iframe>`,
      `<object data="${b}/object"></object>`,
      `<link rel="stylesheet" href="${b}/link">`,
      `<img srcset="${b}/srcset 1x">`,
      `<video poster="${b}/poster"></video>`,
      `<table background="${b}/table-bg"><tr><td>t</td></tr></table>`,
      `<img src="&#x68;ttp://127.0.0.2:${new URL(b).port}/encoded">`,
    ].join('\n');
    await send({ subject: 'Hostile newsletter', html: `<html><body>${hostile}</body></html>` });
    await row('Hostile newsletter').waitFor({ timeout: 10_000 });
    beaconHits.length = 0;
    await row('Hostile newsletter').getByRole('button').click();
    const frame = page.frameLocator('iframe.body-frame');
    await expect.poll(() => frame.locator('#visible').textContent(), { timeout: 10_000 }).toBe('Quarterly newsletter');
    await page.waitForTimeout(1500);
    expect(beaconHits).toEqual([]);
    expect(await page.title()).not.toContain('pwned');
    // The links that remain open a new tab with neither referrer nor opener.
    expect(
      await frame.locator('a[href]').evaluateAll((as) => as.map((a) => [a.getAttribute('href'), a.getAttribute('rel'), a.getAttribute('target')])),
    ).toEqual([['https://example.org/safe', 'noopener noreferrer', '_blank']]);
    await page.screenshot({ path: screenshotPath('hostile-blocked') });
    // The beacon works: once the reader allows remote content, the plain remote image loads.
    await page.getByRole('button', { name: 'Show remote content' }).click();
    await eventually(async () => beaconHits.includes('/img-remote'), 10_000);
    // Allowed now: images and CSS backgrounds. Never: scripts, handlers, @import, refresh, forms, frames, objects, <link>.
    await page.waitForTimeout(1000);
    expect(beaconHits.filter((h) => !['/img-remote', '/encoded', '/css-url', '/css-body'].includes(h))).toEqual([]);
    expect(await page.title()).not.toContain('pwned');
  });

  it('a draft is saved to Drafts (\\Draft over IMAP) and can be resumed there', async () => {
    await page.getByRole('button', { name: 'Compose' }).click();
    await page.getByLabel('To', { exact: true }).fill(OTHER);
    await page.getByLabel('Subject').fill('Plans for the offsite');
    await page.getByLabel('Message', { exact: true }).fill('First ideas: a lake, a boat.');
    await page.getByRole('button', { name: 'Close' }).click();
    await eventually(async () => (await imapList('Drafts')).find((m) => m.subject === 'Plans for the offsite' && m.flags.includes('\\Draft')));
    await page
      .getByRole('navigation', { name: 'Mailboxes' })
      .getByRole('button', { name: /Drafts/ })
      .click();
    await row('Plans for the offsite').getByRole('button').click();
    await expect.poll(() => page.getByLabel('Subject').inputValue(), { timeout: 10_000 }).toBe('Plans for the offsite');
    expect(await page.getByLabel('Message', { exact: true }).inputValue()).toContain('a lake, a boat');
    await page.getByLabel('Message', { exact: true }).fill('First ideas: a lake, a boat, a campfire.');
    await page.getByRole('button', { name: 'Close' }).click();
    // The resumed draft replaced the first one: still one draft, with the new text.
    await eventually(async () => {
      const drafts = (await imapList('Drafts')).filter((m) => m.subject === 'Plans for the offsite');
      return drafts.length === 1;
    });
    await page.getByRole('navigation', { name: 'Mailboxes' }).getByRole('button', { name: /Inbox/ }).click();
  });

  it('reply: the answer reaches the sender (over IMAP) with In-Reply-To and References, and a copy is in Sent', async () => {
    await send({ from: `Bob <${OTHER}>`, subject: 'Budget question', text: 'Can you check the numbers?', messageId: '<budget-1@example.test>' });
    await row('Budget question').waitFor({ timeout: 10_000 });
    await row('Budget question').getByRole('button').click();
    await page.getByRole('button', { name: 'Reply', exact: true }).click();
    await expect.poll(() => page.getByLabel('To', { exact: true }).inputValue(), { timeout: 10_000 }).toContain(OTHER);
    expect(await page.getByLabel('Subject').inputValue()).toBe('Re: Budget question');
    const body = page.getByLabel('Message', { exact: true });
    await body.fill('The numbers are right.\n\n' + (await body.inputValue()));
    await page.screenshot({ path: screenshotPath('compose-reply') });
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const got = await eventually(
      async () =>
        imap(async (c) => {
          const lock = await c.getMailboxLock('INBOX');
          try {
            for await (const m of c.fetch('1:*', { envelope: true, source: true }))
              if (m.envelope!.subject === 'Re: Budget question') return m.source!.toString();
            return undefined;
          } finally {
            lock.release();
          }
        }, OTHER),
      20_000,
    );
    expect(got).toMatch(/^In-Reply-To: <budget-1@example\.test>/im);
    expect(got).toMatch(/^References: <budget-1@example\.test>/im);
    expect(got).toContain('The numbers are right.');
    expect(got).toMatch(/^From: .*alice@example\.test/im);
    await eventually(async () => (await imapList('Sent')).find((m) => m.subject === 'Re: Budget question' && !m.flags.includes('\\Draft')));
    expect((await imapList('Drafts')).some((m) => m.subject === 'Re: Budget question')).toBe(false);
  });

  it('To suggests past correspondents after two letters (a listbox); Enter takes one and keeps the addresses before it', async () => {
    await page.getByRole('button', { name: 'Compose' }).click();
    const to = page.getByRole('combobox', { name: 'To', exact: true });
    await to.fill('carol@example.net, b');
    expect(await page.getByRole('listbox', { name: 'Suggestions' }).count()).toBe(0);
    await to.pressSequentially('o');
    const option = page.getByRole('listbox', { name: 'Suggestions' }).getByRole('option', { name: `Bob <${OTHER}>` });
    await option.waitFor({ timeout: 10_000 });
    await page.screenshot({ path: screenshotPath('compose-suggestions') });
    await to.press('Enter');
    expect(await to.inputValue()).toBe(`carol@example.net, Bob <${OTHER}>, `);
    expect(await page.getByRole('listbox', { name: 'Suggestions' }).count()).toBe(0);
    // Carol wrote to us (Inbox): she is suggested by her name's first letters too.
    await to.pressSequentially('Ca');
    await page.getByRole('option', { name: /Carol Sender <carol@example\.net>/ }).click();
    expect(await to.inputValue()).toBe(`carol@example.net, Bob <${OTHER}>, Carol Sender <carol@example.net>, `);
    await page.getByRole('button', { name: 'Discard' }).click();
  });

  it('conversations: a reply chain is one row with its count; opening it shows every message (Sent too), the newest open; the switch turns them off', async () => {
    // Bob answers alice's reply: the thread is his question (Inbox), alice's reply (Sent) and this (Inbox).
    await send({ from: `Bob <${OTHER}>`, subject: 'Re: Budget question', text: 'Thanks, all clear now.', references: '<budget-1@example.test>' });
    const budget = page.locator('ul.messages li', { hasText: 'Budget question' });
    await expect.poll(() => page.locator('ul.messages li', { hasText: 'all clear now' }).count(), { timeout: 10_000 }).toBe(1);
    expect(await budget.count()).toBe(1);
    await expect.poll(() => budget.textContent(), { timeout: 10_000 }).toContain('3 messages');
    expect(await budget.textContent()).toContain('Bob, me');
    await budget.getByRole('button').click();
    const conversation = page.getByRole('region', { name: 'Conversation of 3 messages' });
    await conversation.waitFor({ timeout: 10_000 });
    await expect.poll(() => conversation.getByRole('article').count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => conversation.getByRole('article').textContent(), { timeout: 10_000 }).toContain('Thanks, all clear now.');
    // The older ones are a line each; a click opens one.
    expect(await conversation.getByRole('button', { name: /^me / }).count()).toBe(1); // alice's reply, from Sent
    await conversation.getByRole('button', { name: /^Bob .*Can you check the numbers/ }).click();
    await expect.poll(() => conversation.getByRole('article').count(), { timeout: 10_000 }).toBe(2);
    await page.screenshot({ path: screenshotPath('conversation') });
    await page.getByLabel('Conversations').uncheck();
    await expect.poll(() => budget.count(), { timeout: 10_000 }).toBe(2);
    await page.getByLabel('Conversations').check();
    await expect.poll(() => budget.count(), { timeout: 10_000 }).toBe(1);
  });

  it('compose with an attachment to a second user: it arrives byte-correct', async () => {
    const bytes = Buffer.alloc(150 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919 + 13) % 256;
    await page.getByRole('button', { name: 'Compose' }).click();
    await page.getByLabel('To', { exact: true }).fill(OTHER);
    await page.getByLabel('Subject').fill('The report');
    await page.getByLabel('Message', { exact: true }).fill('Attached, as promised.');
    await page.getByLabel('Attach files').setInputFiles({ name: 'report.bin', mimeType: 'application/octet-stream', buffer: bytes });
    await page.getByRole('list', { name: 'Attached files' }).getByText('report.bin').waitFor({ timeout: 10_000 });
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const part = await eventually(
      async () =>
        imap(async (c) => {
          const lock = await c.getMailboxLock('INBOX');
          try {
            let uid: number | undefined;
            for await (const m of c.fetch('1:*', { envelope: true, uid: true })) if (m.envelope!.subject === 'The report') uid = m.uid;
            if (!uid) return undefined;
            const { content } = await c.download(String(uid), '2', { uid: true });
            if (!content) return undefined;
            const chunks: Buffer[] = [];
            for await (const chunk of content) chunks.push(chunk as Buffer);
            return Buffer.concat(chunks);
          } finally {
            lock.release();
          }
        }, OTHER),
      20_000,
    );
    expect(part.equals(bytes)).toBe(true);
  });

  it('creates, renames and deletes a folder; IMAP LIST follows', async () => {
    const nav = page.getByRole('navigation', { name: 'Mailboxes' });
    page.once('dialog', (d) => void d.accept('Projects'));
    await nav.getByRole('button', { name: 'New folder' }).click();
    await nav.getByRole('button', { name: /Projects/ }).waitFor();
    await eventually(async () => (await imap((c) => c.list())).some((m) => m.path === 'Projects'));
    page.once('dialog', (d) => void d.accept('Projects 2026'));
    await nav.getByRole('button', { name: 'Rename folder' }).click();
    await nav.getByRole('button', { name: /Projects 2026/ }).waitFor();
    await eventually(async () => (await imap((c) => c.list())).some((m) => m.path === 'Projects 2026'));
    page.once('dialog', (d) => void d.accept());
    await nav.getByRole('button', { name: 'Delete folder' }).click();
    await expect.poll(() => nav.getByRole('button', { name: /Projects 2026/ }).count(), { timeout: 10_000 }).toBe(0);
    expect((await imap((c) => c.list())).map((m) => m.path)).not.toContain('Projects 2026');
    // Special-use folders cannot be renamed or deleted from here.
    expect(await nav.getByRole('button', { name: 'Delete folder' }).isDisabled()).toBe(true);
  });

  it('moves several selected messages to a folder at once (Move to); IMAP sees them there and gone from INBOX', async () => {
    const nav = page.getByRole('navigation', { name: 'Mailboxes' });
    page.once('dialog', (d) => void d.accept('Receipts'));
    await nav.getByRole('button', { name: 'New folder' }).click();
    await nav.getByRole('button', { name: /Receipts/ }).waitFor();
    await nav.getByRole('button', { name: /Inbox/ }).click();
    await send({ subject: 'Receipt one', text: 'paid' });
    await send({ subject: 'Receipt two', text: 'paid too' });
    await row('Receipt one').waitFor({ timeout: 10_000 });
    await row('Receipt two').waitFor({ timeout: 10_000 });
    await row('Receipt one').getByRole('checkbox').check();
    await row('Receipt two').getByRole('checkbox').check();
    await page.getByLabel('Move to').selectOption({ label: 'Receipts' });
    await expect.poll(() => row('Receipt').count(), { timeout: 10_000 }).toBe(0);
    await eventually(async () => (await imapList('Receipts')).length === 2);
    expect((await imapList('Receipts')).map((m) => m.subject).sort()).toEqual(['Receipt one', 'Receipt two']);
    expect((await imapList('INBOX')).some((m) => m.subject.startsWith('Receipt'))).toBe(false);
  });

  it('is usable with the keyboard alone: / search, j/k move, e archives, Escape returns to the list', async () => {
    await send({ subject: 'Keyboard one', text: 'first' });
    await send({ subject: 'Keyboard two', text: 'second' });
    await row('Keyboard two').waitFor({ timeout: 10_000 });
    await row('Keyboard one').waitFor({ timeout: 10_000 });
    await page.locator('body').click({ position: { x: 900, y: 700 } });
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('ul.messages li.open').count(), { timeout: 10_000 }).toBe(0);
    await page.keyboard.press('j');
    await expect.poll(() => page.locator('ul.messages li.open').textContent(), { timeout: 10_000 }).toContain('Keyboard two');
    await page.keyboard.press('j');

    await expect.poll(() => page.locator('ul.messages li.open').textContent(), { timeout: 10_000 }).toContain('Keyboard one');
    await page.keyboard.press('k');
    await expect.poll(() => page.locator('ul.messages li.open').textContent(), { timeout: 10_000 }).toContain('Keyboard two');
    await page.keyboard.press('e');
    await eventually(async () => (await imapList('Archive')).some((m) => m.subject === 'Keyboard two'));
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('ul.messages li.open').count(), { timeout: 10_000 }).toBe(0);
    await page.keyboard.press('/');
    expect(await page.evaluate(() => (globalThis as unknown as { document: { activeElement: { id: string } } }).document.activeElement.id)).toBe('search');
    // Every input has a label, every button a name (WCAG 4.1.2).
    const unnamed = await page.evaluate(() => {
      const d = (globalThis as unknown as { document: any }).document;
      const bad: string[] = [];
      for (const el of d.querySelectorAll('input, textarea, select')) if (!el.labels?.length && !el.getAttribute('aria-label')) bad.push(el.outerHTML);
      for (const el of d.querySelectorAll('button')) if (!(el.textContent ?? '').trim() && !el.getAttribute('aria-label')) bad.push(el.outerHTML);
      return bad;
    });
    expect(unnamed).toEqual([]);
  });

  it('works on a phone-sized screen: list first, the message alone, Back to the list', async () => {
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(base + '/');
    await phone.getByLabel('Email').fill(USER);
    await phone.getByLabel('Password').fill(PASSWORD);
    await phone.getByRole('button', { name: 'Sign in' }).click();
    const lunch = phone.locator('ul.messages li', { hasText: 'Lunch on Friday' });
    await lunch.waitFor({ timeout: 10_000 });
    await phone.screenshot({ path: screenshotPath('phone-inbox') });
    await lunch.getByRole('button').click();
    await phone.getByRole('button', { name: 'Back' }).waitFor();
    expect(await phone.locator('ul.messages').isVisible()).toBe(false);
    await phone.screenshot({ path: screenshotPath('phone-message') });
    await phone.getByRole('button', { name: 'Back' }).click();
    await expect.poll(() => phone.locator('ul.messages').isVisible(), { timeout: 10_000 }).toBe(true);
    await phone.close();
  });

  it('settings: an auto-reply turned on in the page answers the next sender once (VacationResponse, RFC 3834)', async () => {
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByLabel('Send an auto-reply').check();
    await page.getByLabel('Auto-reply subject').fill('Away until Monday');
    await page.getByLabel('Auto-reply text').fill('I am away and will answer on Monday.');
    await page.getByRole('form', { name: 'Auto-reply' }).getByRole('button', { name: 'Save' }).click();
    const vacationStatus = () => page.getByRole('form', { name: 'Auto-reply' }).getByRole('status').textContent();
    await expect.poll(vacationStatus, { timeout: 10_000 }).toContain('Auto-reply is on.');
    await page.screenshot({ path: screenshotPath('settings') });
    await send({ from: `Bob <${OTHER}>`, to: USER, subject: 'Are you there?', text: 'Ping.' });
    await eventually(async () => {
      const got = await imap(async (c) => {
        const lock = await c.getMailboxLock('INBOX');
        try {
          const out: string[] = [];
          for await (const m of c.fetch('1:*', { envelope: true })) out.push(m.envelope!.subject ?? '');
          return out;
        } finally {
          lock.release();
        }
      }, OTHER);
      return got.includes('Away until Monday');
    }, 20_000);
    await page.getByLabel('Send an auto-reply').uncheck();
    await page.getByRole('form', { name: 'Auto-reply' }).getByRole('button', { name: 'Save' }).click();
    await expect.poll(vacationStatus, { timeout: 10_000 }).toContain('Auto-reply is off.');
    await page.getByRole('button', { name: 'Close' }).click();
  });

  it('settings: change password; a wrong current one is refused, the page stays signed in, IMAP takes the new one at once', async () => {
    const form = () => page.getByRole('form', { name: 'Change password' });
    const status = () => form().getByRole('status').textContent();
    const change = async (current: string, next: string) => {
      await page.getByLabel('Current password').fill(current);
      await page.getByLabel('New password', { exact: true }).fill(next);
      await page.getByLabel('New password again').fill(next);
      const answered = page.waitForResponse((r) => r.url().endsWith('/jmap/auth/password'));
      await form().getByRole('button', { name: 'Change password' }).click();
      await answered;
    };
    const imapLogin = (pass: string) =>
      imap(async () => 'OK', USER, pass).catch((err: { authenticationFailed?: boolean }) => (err.authenticationFailed ? 'NO' : Promise.reject(err)));
    await page.getByRole('button', { name: 'Settings' }).click();
    await change('not my password', 'battery staple horse');
    await expect.poll(status, { timeout: 10_000 }).toContain('The current password is wrong.');
    await change(PASSWORD, 'battery staple horse');
    await expect.poll(status, { timeout: 10_000 }).toContain('Password changed.');
    await page.screenshot({ path: screenshotPath('settings-password') });
    expect(await imapLogin('battery staple horse')).toBe('OK');
    expect(await imapLogin(PASSWORD)).toBe('NO');
    // The page carries on with its fresh token: it can change the password back.
    await change('battery staple horse', PASSWORD);
    await expect.poll(status, { timeout: 10_000 }).toContain('Password changed.');
    expect(await imapLogin(PASSWORD)).toBe('OK');
    await page.getByRole('button', { name: 'Close' }).click();
  });

  it('sign out returns to the sign-in form and revokes the token on the server; a reload does not sign in', async () => {
    // The token the page uses, seen on the wire (it is nowhere else: not in storage, not in a cookie).
    const seen = page.waitForRequest((r) => r.url().endsWith('/jmap/api'));
    await page.getByRole('button', { name: 'Mark read' }).click();
    await page.keyboard.press('j');
    const authorization = (await seen).headers().authorization;
    expect(authorization).toMatch(/^Bearer /);
    expect(await page.evaluate(() => JSON.stringify({ ...(globalThis as any).localStorage }) + (globalThis as any).document.cookie)).toBe('{}');
    const api = (auth: string) =>
      page.request.post(base + '/jmap/api', {
        headers: { authorization: auth, 'content-type': 'application/json' },
        data: { using: ['urn:ietf:params:jmap:core'], methodCalls: [['Core/echo', {}, '0']] },
      });
    expect((await api(authorization)).status()).toBe(200);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await expect.poll(async () => (await api(authorization)).status(), { timeout: 10_000 }).toBe(401);
    await page.getByLabel('Password').waitFor();
    await page.reload();
    await page.getByLabel('Password').waitFor();
    await signIn();
  });
});
