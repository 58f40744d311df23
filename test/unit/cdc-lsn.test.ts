import { describe, expect, it } from 'vitest';
import { compareLsn, formatLsn, isLsn, lsnDiff, maxLsn, parseLsn } from '../../activities/adapters/postgres/lsn';

describe('LSN math', () => {
  it('parses and formats as PostgreSQL prints', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe(0x16b374d848n);
    expect(parseLsn('0/16b3748')).toBe(0x16b3748n);
    expect(formatLsn(0x16b374d848n)).toBe('16/B374D848');
    expect(formatLsn(0n)).toBe('0/0');
    expect(formatLsn(parseLsn('FFFFFFFF/FFFFFFFF'))).toBe('FFFFFFFF/FFFFFFFF');
    expect(formatLsn(parseLsn('1/0'))).toBe('1/0');
  });

  it('rejects what is not an LSN', () => {
    for (const bad of ['', '0', '0/', '/1', '1/2/3', 'G/1', '123456789/0', '0/123456789', "0/1'; DROP"]) {
      expect(isLsn(bad)).toBe(false);
      expect(() => parseLsn(bad)).toThrow(/not a PostgreSQL LSN/);
    }
    expect(() => formatLsn(-1n)).toThrow();
  });

  it('compares across the 32-bit boundary (not as strings)', () => {
    expect(compareLsn('0/FFFFFFFF', '1/0')).toBe(-1);
    expect(compareLsn('1/0', '0/FFFFFFFF')).toBe(1);
    expect(compareLsn('A/10', 'a/10')).toBe(0);
    expect(compareLsn('0/9', '0/10')).toBe(-1); // hex: 9 < 0x10
    expect(compareLsn(5n, '0/5')).toBe(0);
    expect(maxLsn('0/FFFFFFFF', '1/0')).toBe('1/0');
  });

  it('diffs in bytes, never negative', () => {
    expect(lsnDiff('1/0', '0/FFFFFFFF')).toBe(1);
    expect(lsnDiff('2/10', '1/10')).toBe(2 ** 32);
    expect(lsnDiff('0/10', '0/20')).toBe(0);
    expect(lsnDiff(parseLsn('0/100'), '0/0')).toBe(256);
  });
});
