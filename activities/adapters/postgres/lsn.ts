// PostgreSQL WAL positions (LSNs): `XXXXXXXX/XXXXXXXX` text <-> 64-bit integers. Pure.

const LSN_TEXT = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/;

/** True when `text` looks like an LSN (`16/B374D848`). */
export function isLsn(text: string): boolean {
  return LSN_TEXT.test(text);
}

/** `16/B374D848` -> 0x16B374D848n. Throws on anything else. */
export function parseLsn(text: string): bigint {
  const m = LSN_TEXT.exec(text.trim());
  if (!m) throw new Error(`'${text}' is not a PostgreSQL LSN (expected hex/hex, e.g. 0/16B3748)`);
  return (BigInt(`0x${m[1]!}`) << 32n) | BigInt(`0x${m[2]!}`);
}

/** 0x16B374D848n -> `16/B374D848` (upper-case hex, as PostgreSQL prints it). */
export function formatLsn(value: bigint): string {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new Error(`LSN out of range: ${value}`);
  return `${(value >> 32n).toString(16).toUpperCase()}/${(value & 0xffff_ffffn).toString(16).toUpperCase()}`;
}

/** -1, 0 or 1 as a is before, at or after b (either as text or as a number). */
export function compareLsn(a: string | bigint, b: string | bigint): number {
  const x = typeof a === 'bigint' ? a : parseLsn(a);
  const y = typeof b === 'bigint' ? b : parseLsn(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Bytes of WAL from `from` to `to`; 0 when `to` is not after `from`. */
export function lsnDiff(to: string | bigint, from: string | bigint): number {
  const x = typeof to === 'bigint' ? to : parseLsn(to);
  const y = typeof from === 'bigint' ? from : parseLsn(from);
  return x > y ? Number(x - y) : 0;
}

/** The later of two LSNs (text form). */
export function maxLsn(a: string, b: string): string {
  return compareLsn(a, b) >= 0 ? formatLsn(parseLsn(a)) : formatLsn(parseLsn(b));
}
