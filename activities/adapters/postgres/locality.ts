// Whether the full load's streams share this worker's cores with both databases. Each stream
// keeps a source backend, a target backend and the worker's piping busy; with all three on one
// machine and no more cores than streams, the streams already compete for every core, and
// splitting a table for balance only adds work (no COPY FREEZE, range scans on the source).
// Measured on the bench (bench/results.md, "What changed: the long pole stays whole where the
// streams share the machine"): pgbench at scale 100 on 2 cores, five alternating runs each, the
// migration took 12.2 s with its 1.28 GB table whole and 12.8 s with it split.
import { availableParallelism, hostname, networkInterfaces } from 'node:os';
import type { MigrationSpec } from '../../../workflows/spec';

export interface Machine {
  cores: number;
  /** Lower-case host names and addresses that reach this machine (besides loopback ones). */
  names: Set<string>;
}

export function thisMachine(): Machine {
  const names = new Set<string>([hostname().toLowerCase()]);
  for (const addresses of Object.values(networkInterfaces())) for (const a of addresses ?? []) names.add(a.address.toLowerCase());
  return { cores: availableParallelism(), names };
}

/** A host that is this machine: loopback, a Unix-socket directory, or one of its names or addresses. No DNS lookup. */
export function isThisMachine(host: string, machine: Machine): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h.startsWith('/') || h === 'localhost' || h.endsWith('.localhost') || /^(::ffff:)?127\./.test(h) || h === '::1' || machine.names.has(h);
}

/**
 * splitLongPole resolved: `auto` splits unless both databases are on this machine and the streams
 * are at least its cores. Unset (a spec from before the setting) splits, as Ferry did then.
 */
export function splitsLongPole(
  mode: MigrationSpec['fullLoad']['splitLongPole'] | undefined,
  parallelism: number,
  hosts: { source: string; target: string },
  machine: Machine = thisMachine(),
): boolean {
  if (mode === 'always' || mode === undefined) return true;
  if (mode === 'never') return false;
  const sharedCores = isThisMachine(hosts.source, machine) && isThisMachine(hosts.target, machine) && parallelism >= machine.cores;
  return !sharedCores;
}
