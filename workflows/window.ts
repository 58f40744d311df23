// Cutover windows: a daily HH:MM-HH:MM range in an IANA time zone (may wrap past midnight).
// Pure functions of a timestamp, so the workflow can use them with its deterministic clock.

export interface CutoverWindow {
  start: string;
  end: string;
  timeZone: string;
}

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** Minutes since local midnight (with seconds as a fraction) of `epochMs` in `timeZone`. */
export function localMinutes(epochMs: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone,
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(new Date(epochMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return get('hour') * 60 + get('minute') + get('second') / 60;
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Milliseconds until the window opens (0 when `epochMs` is inside it). The answer is rounded up
 * to the next whole minute boundary of the local clock, good enough for a timer that re-checks.
 */
export function msUntilWindowOpens(epochMs: number, window: CutoverWindow): number {
  const now = localMinutes(epochMs, window.timeZone);
  const start = minutesOf(window.start);
  const end = minutesOf(window.end);
  const inside = start <= end ? now >= start && now < end : now >= start || now < end;
  if (inside) return 0;
  const untilStart = (start - now + 24 * 60) % (24 * 60);
  return Math.max(1_000, Math.ceil(untilStart * 60_000));
}
