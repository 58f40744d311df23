// Precheck reports: which warnings are acknowledged, and the overall status. Pure, shared by the
// precheck activity and the workflow (which re-applies acknowledgements given while it waits).
import type { CheckStatus, PrecheckItem, PrecheckReport } from './types';

/** `no-key:public.t` matches itself; `no-key:*` matches every id starting with `no-key:`; `*` matches all. */
export function matchesAck(id: string, pattern: string): boolean {
  return pattern.endsWith('*') ? id.startsWith(pattern.slice(0, -1)) : id === pattern;
}

export function summarizePrecheck(items: PrecheckItem[]): CheckStatus {
  if (items.some((i) => i.status === 'fail')) return 'fail';
  if (items.some((i) => i.status === 'warning' && !i.acknowledged)) return 'warning';
  return 'pass';
}

export function acknowledgeWarnings(items: PrecheckItem[], patterns: readonly string[]): PrecheckReport {
  const marked = items.map((i) =>
    i.status === 'warning' && patterns.some((p) => matchesAck(i.id, p)) ? { ...i, acknowledged: true } : i,
  );
  return { items: marked, status: summarizePrecheck(marked) };
}
