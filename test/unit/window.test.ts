import { describe, expect, it } from 'vitest';
import { isValidTimeZone, msUntilWindowOpens } from '../../workflows/window';

const at = (iso: string) => Date.parse(iso);

describe('cutover window', () => {
  it('is open inside a same-day window and closed at its end', () => {
    const w = { start: '22:00', end: '23:30', timeZone: 'UTC' };
    expect(msUntilWindowOpens(at('2026-11-23T22:15:00Z'), w)).toBe(0);
    expect(msUntilWindowOpens(at('2026-11-23T23:30:00Z'), w)).toBe(22.5 * 3600_000);
    expect(msUntilWindowOpens(at('2026-11-23T21:00:00Z'), w)).toBe(3600_000);
  });

  it('wraps past midnight', () => {
    const w = { start: '23:00', end: '02:00', timeZone: 'UTC' };
    expect(msUntilWindowOpens(at('2026-11-24T01:59:00Z'), w)).toBe(0);
    expect(msUntilWindowOpens(at('2026-11-23T23:00:00Z'), w)).toBe(0);
    expect(msUntilWindowOpens(at('2026-11-24T02:00:00Z'), w)).toBe(21 * 3600_000);
  });

  it('reads the clock in the window time zone, daylight saving included', () => {
    const w = { start: '02:00', end: '04:00', timeZone: 'Europe/Berlin' };
    expect(msUntilWindowOpens(at('2026-11-23T01:30:00Z'), w)).toBe(0); // 02:30 CET
    expect(msUntilWindowOpens(at('2026-07-01T01:30:00Z'), w)).toBe(0); // 03:30 CEST
    expect(msUntilWindowOpens(at('2026-07-01T02:30:00Z'), w)).toBeGreaterThan(0); // 04:30 CEST
  });

  it('knows IANA zones', () => {
    expect(isValidTimeZone('America/New_York')).toBe(true);
    expect(isValidTimeZone('Mars/Olympus')).toBe(false);
  });
});
