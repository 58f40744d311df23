// The one place SQL identifiers are quoted. Every identifier the adapter puts into SQL text goes
// through quoteIdent (always double-quoted, embedded quotes doubled, so case, spaces, quotes and
// semicolons are carried literally). Values are $n parameters, except in CDC
// apply, which inlines them as literals (apply.ts sqlLiteral) to send a batch in one round trip.

/** Quote an SQL identifier: `Mixed "Case"` -> `"Mixed ""Case"""`. Always quotes. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('empty SQL identifier');
  if (name.includes('\u0000')) throw new Error('SQL identifier contains a NUL character');
  return `"${name.replace(/"/g, '""')}"`;
}

/** `schema.name`, both quoted. */
export function qualify(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** A comma-separated list of quoted identifiers. */
export function quoteIdentList(names: readonly string[]): string {
  return names.map(quoteIdent).join(', ');
}

/** Human-readable `schema.table` for messages (not for SQL). */
export function displayName(schema: string, name: string): string {
  const part = (s: string) => (/^[a-z_][a-z0-9_]*$/.test(s) ? s : quoteIdent(s));
  return `${part(schema)}.${part(name)}`;
}
