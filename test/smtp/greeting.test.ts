/**
 * The SMTP greetings, exactly (RFC 5321 §4.2 / §4.3.1: `220 <domain> <text>`). smtp-server
 * writes `ESMTP` after the name itself; the banner text must not repeat it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LineClient } from '../support/line-client.ts';
import { startTestSystem, type TestSystem } from '../support/mail-system.ts';

describe('SMTP greetings', () => {
  let sys: TestSystem;
  beforeAll(async () => {
    sys = await startTestSystem({ workers: false });
  });
  afterAll(() => sys?.stop());

  it('the MX listener greets with "220 <host> ESMTP ready", ESMTP once', async () => {
    const c = await LineClient.connect(sys.port('smtp-mx'));
    expect(await c.smtpReply()).toBe('220 mx.test ESMTP ready');
    c.close();
  });

  it('the submission listener greets with "220 <host> ESMTP submission ready"', async () => {
    const c = await LineClient.connect(sys.port('submission'));
    expect(await c.smtpReply()).toBe('220 mx.test ESMTP submission ready');
    c.close();
  });
});
