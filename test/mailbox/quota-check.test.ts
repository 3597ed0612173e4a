/**
 * quotaExceeded (core/mailbox/quota.ts): with the user record at hand, a user without limits
 * costs no read of the usage counter — the check runs at every RCPT and every delivery.
 */
import { describe, expect, it } from 'vitest';
import { quotaExceeded } from '#core/mailbox/quota.ts';
import type { MailIndex } from '#core/ports/mail-index.ts';

function indexWith(quota: Awaited<ReturnType<MailIndex['getQuota']>>): { index: MailIndex; reads: () => number } {
  let reads = 0;
  const index = {
    getQuota: async () => {
      reads++;
      return quota;
    },
  } as unknown as MailIndex;
  return { index, reads: () => reads };
}

describe('quotaExceeded', () => {
  it('reads nothing for a user record without limits', async () => {
    const { index, reads } = indexWith({ limits: { storage: 1, messages: 1 }, usage: { storage: 1, messages: 1 } });
    expect(await quotaExceeded(index, 'a@example.test', { storage: 10, messages: 1 }, { quota: undefined })).toBeNull();
    expect(reads()).toBe(0);
  });

  it('reads the usage for a user with limits, and without a record at hand (RFC 9208 §5: STORAGE, then MESSAGE)', async () => {
    const { index, reads } = indexWith({ limits: { storage: 100, messages: 5 }, usage: { storage: 95, messages: 5 } });
    expect(await quotaExceeded(index, 'a@example.test', { storage: 10, messages: 1 }, { quota: { storage: 100, messages: 5 } })).toBe('STORAGE');
    expect(await quotaExceeded(index, 'a@example.test', { storage: 1, messages: 1 })).toBe('MESSAGE');
    expect(reads()).toBe(2);
  });
});
