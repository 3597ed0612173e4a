/**
 * IDLE_POLL_SECONDS (core/config.ts): the IDLE watcher's safety-net interval is a timer, and
 * Node fires a timer longer than 2^31 ms after 1 ms, so a value above a day is refused with a
 * clear configuration error rather than turning the slow poll into a busy loop.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '#core/config.ts';

describe('IDLE_POLL_SECONDS', () => {
  it('defaults to 60 and accepts 1 to 86400', () => {
    expect(loadConfig({}).idlePollSeconds).toBe(60);
    expect(loadConfig({ IDLE_POLL_SECONDS: '1' }).idlePollSeconds).toBe(1);
    expect(loadConfig({ IDLE_POLL_SECONDS: '86400' }).idlePollSeconds).toBe(86_400);
  });

  it('refuses 0, a value above a day (one that would overflow the timer) and a non-integer, naming the variable and the range', () => {
    expect(() => loadConfig({ IDLE_POLL_SECONDS: '0' })).toThrow('IDLE_POLL_SECONDS must be between 1 and 86400, got 0');
    expect(() => loadConfig({ IDLE_POLL_SECONDS: '86401' })).toThrow('IDLE_POLL_SECONDS must be between 1 and 86400, got 86401');
    expect(() => loadConfig({ IDLE_POLL_SECONDS: '2147484' })).toThrow(/IDLE_POLL_SECONDS must be between 1 and 86400/);
    expect(() => loadConfig({ IDLE_POLL_SECONDS: '1.5' })).toThrow(/IDLE_POLL_SECONDS/);
  });
});
