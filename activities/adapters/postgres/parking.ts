// A place to keep an open resource (a replication session) between two activities of the same
// migration on this worker, for a few seconds. The next activity takes it back instead of opening
// a new one; one that is not taken in time is closed. Keyed by migration id: one per migration.

export class ParkingLot<T> {
  private readonly parked = new Map<string, { value: T; timer: NodeJS.Timeout }>();

  constructor(
    private readonly keepMs: number,
    private readonly close: (value: T) => Promise<void>,
  ) {}

  /** Keep `value` for `id` (closing whatever was kept for it before). */
  park(id: string, value: T): void {
    const before = this.parked.get(id);
    if (before) {
      clearTimeout(before.timer);
      void this.close(before.value).catch(() => undefined);
    }
    const timer = setTimeout(() => {
      if (this.parked.get(id)?.value !== value) return;
      this.parked.delete(id);
      void this.close(value).catch(() => undefined);
    }, this.keepMs);
    timer.unref();
    this.parked.set(id, { value, timer });
  }

  /** The value kept for `id`, now the caller's (to use, then park or close). */
  take(id: string): T | undefined {
    const p = this.parked.get(id);
    if (!p) return undefined;
    this.parked.delete(id);
    clearTimeout(p.timer);
    return p.value;
  }

  /** Close what is kept for `id`, if anything. */
  async discard(id: string): Promise<void> {
    const v = this.take(id);
    if (v !== undefined) await this.close(v).catch(() => undefined);
  }

  /** Close everything kept (worker shutdown, tests). */
  async closeAll(): Promise<void> {
    const ids = [...this.parked.keys()];
    await Promise.all(ids.map((id) => this.discard(id)));
  }
}
