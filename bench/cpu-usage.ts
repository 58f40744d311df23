// CPU time by process group over a benchmark run, from /proc (Linux): where a tool's time goes
// when source, target and tool share one machine's cores.
//
//   node --import tsx bench/cpu-usage.ts snap FILE                      what every process has used so far
//   node --import tsx bench/cpu-usage.ts diff FILE NAME=PID [NAME=PID]  core-seconds since FILE, per group, as JSON
//
// A group is a process, the processes whose parent it is (a postmaster's backends), and every
// descendant it has reaped (its children's times: backends that ended, a shell's tools). The
// machine's busy, idle and stolen (hypervisor) core-seconds come from /proc/stat; `other` is busy
// time no group has. (One node process, not tsx's launcher: a launcher's child would land in the
// calling shell's reaped time with its whole life.)
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

interface Proc {
  ppid: number;
  /** utime + stime, and cutime + cstime (reaped descendants), in clock ticks. */
  self: number;
  reaped: number;
}
interface Snapshot {
  procs: Record<string, Proc>;
  busy: number;
  idle: number;
  /** Time the hypervisor gave to other guests while this one wanted to run. */
  steal: number;
}

const TICKS = 100; // USER_HZ on Linux

function snapshot(): Snapshot {
  const procs: Record<string, Proc> = {};
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      // The command name may hold spaces and parentheses: fields start after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs[pid] = { ppid: Number(f[1]), self: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
    } catch {
      // ended meanwhile
    }
  }
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = cpu;
  return { procs, busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
}

/** `others`: the other groups' roots, which are never part of this group (a worker the bench shell started). */
function groupTicks(before: Snapshot, after: Snapshot, root: number, others: Set<number>): number {
  const was = (pid: string) => before.procs[pid] ?? { ppid: 0, self: 0, reaped: 0 };
  let ticks = 0;
  const rootNow = after.procs[String(root)];
  if (rootNow) ticks += rootNow.self + rootNow.reaped - was(String(root)).self - was(String(root)).reaped;
  for (const [pid, p] of Object.entries(after.procs)) {
    // Not this tool itself: it is the calling shell's child, still running as it measures.
    if (p.ppid === root && !others.has(Number(pid)) && Number(pid) !== process.pid) ticks += p.self + p.reaped - was(pid).self - was(pid).reaped;
  }
  // A child that ended meanwhile is in the root's reaped time with its whole life: take off what it had used before.
  for (const [pid, p] of Object.entries(before.procs)) {
    if (p.ppid === root && !after.procs[pid] && !others.has(Number(pid))) ticks -= p.self + p.reaped;
  }
  return ticks;
}

const [command, file, ...groups] = process.argv.slice(2);
if (command === 'snap' && file) {
  writeFileSync(file, JSON.stringify(snapshot()));
} else if (command === 'diff' && file) {
  const before = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
  const after = snapshot();
  const out: Record<string, number> = {};
  let grouped = 0;
  const parsed = groups.map((g) => {
    const [name, pid] = g.split('=');
    if (!name || !pid || !/^\d+$/.test(pid)) throw new Error(`group '${g}': expected NAME=PID`);
    return { name, pid: Number(pid) };
  });
  for (const { name, pid } of parsed) {
    out[name] = groupTicks(before, after, pid, new Set(parsed.map((g) => g.pid).filter((p) => p !== pid))) / TICKS;
    grouped += out[name];
  }
  out.busy = (after.busy - before.busy) / TICKS;
  out.idle = (after.idle - before.idle) / TICKS;
  out.steal = (after.steal - before.steal) / TICKS;
  // Negative when groups overlap or a group holds time from before the window: shown, not hidden.
  out.other = out.busy - grouped;
  console.log(JSON.stringify(Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Math.round(v * 100) / 100]))));
} else {
  console.error('usage: cpu-usage.ts snap FILE | diff FILE NAME=PID...');
  process.exit(2);
}
