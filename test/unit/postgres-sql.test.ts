import { describe, expect, it } from 'vitest';
import { displayName, qualify, quoteIdent, quoteIdentList } from '../../activities/adapters/postgres/sql';

describe('quoteIdent', () => {
  it.each([
    ['users', '"users"'],
    ['MixedCase', '"MixedCase"'],
    ['with space', '"with space"'],
    ['Mixed "Case"; table', '"Mixed ""Case""; table"'],
    ['"', '""""'],
    ['a"; DROP TABLE x; --', '"a""; DROP TABLE x; --"'],
    ['select', '"select"'],
    ['ünïcødé', '"ünïcødé"'],
    ['back\\slash', '"back\\slash"'],
    ["it's", '"it\'s"'],
  ])('%s -> %s', (name, quoted) => {
    expect(quoteIdent(name)).toBe(quoted);
  });

  it('round-trips: undoubling the inside gives the name back', () => {
    for (const name of ['a', 'A b', '"x"', ';;', 'a""b', 'tab\there', 'new\nline']) {
      const q = quoteIdent(name);
      expect(q.startsWith('"') && q.endsWith('"')).toBe(true);
      const inner = q.slice(1, -1);
      // No lone quote inside: every quote is doubled.
      expect(inner.replace(/""/g, '')).not.toContain('"');
      expect(inner.replace(/""/g, '"')).toBe(name);
    }
  });

  it('refuses empty and NUL identifiers', () => {
    expect(() => quoteIdent('')).toThrow();
    expect(() => quoteIdent('a\u0000b')).toThrow();
  });

  it('qualifies and lists', () => {
    expect(qualify('Odd Schema', 'Mixed "Case"; table')).toBe('"Odd Schema"."Mixed ""Case""; table"');
    expect(quoteIdentList(['a', 'B c'])).toBe('"a", "B c"');
    expect(displayName('public', 'users')).toBe('public.users');
    expect(displayName('Odd Schema', 'x')).toBe('"Odd Schema".x');
  });
});
