// An Oracle -> Oracle flow (El Carro: Data Pump, RMAN, Data Guard) is a list of steps per phase.
// Steps are data: generated SQL/PL/SQL, RMAN or DGMGRL scripts and commands, so a flow can be
// printed, reviewed and golden-tested without a database, and executed by runPhase through the
// runners of each side. Values learned on the way (an SCN, a control-file piece) are captured
// into FlowVars, checked against a pattern, and returned to the caller to keep between phases.
import { cellText, oracleErrors, redact, OracleStepFailed, type CommandRunner, type SqlRunner } from './runner';

export type Side = 'source' | 'target';
export type FlowVars = Readonly<Record<string, string>>;
export type FlowPhase = 'precheck' | 'provision' | 'fence' | 'unfence' | 'fullLoad' | 'catchUp' | 'cutover' | 'cleanup' | 'abort';

interface Capture {
  /** FlowVars key to store the value under. */
  into: string;
  /** The value must match this (it goes into later scripts). */
  pattern: RegExp;
}

export type FlowStep =
  | { kind: 'sql'; on: Side; name: string; sql: string; binds?: Record<string, string | number>; capture?: Capture; expect?: { value: string; message: string } }
  | { kind: 'rman'; on: Side; name: string; script: string; argv?: string[] }
  | { kind: 'dgmgrl'; on: Side; name: string; script: string; check?: (output: string) => string | null }
  | { kind: 'command'; on: Side; name: string; argv: string[]; capture?: Capture & { pick: 'last-sorted-line' } }
  /** Record a value learned earlier under another name (e.g. how far the copy has been recovered); no I/O. */
  | { kind: 'set'; on: Side; name: string; into: string; value: string; pattern: RegExp };

/** A step, or a step built from values captured earlier in the flow. */
export type StepSpec = FlowStep | ((vars: FlowVars) => FlowStep);

export interface OracleFlow {
  variant: 'oracle-datapump' | 'oracle-rman' | 'oracle-dataguard';
  /** One line a person reads in the progress view. */
  summary: string;
  /** Offline flows fence the source before fullLoad; online ones only at cutover. */
  offline: boolean;
  phases: Partial<Record<FlowPhase, StepSpec[]>>;
}

export interface FlowRunners {
  sql: Record<Side, SqlRunner>;
  host: Record<Side, CommandRunner>;
}

export const RMAN_ARGV = ['rman', 'target', '/'];
/** Credentials come in the script's CONNECT line (stdin): the broker needs them to restart instances at switchover. */
export const DGMGRL_ARGV = ['dgmgrl', '-silent'];

function resolve(spec: StepSpec, vars: FlowVars): FlowStep {
  return typeof spec === 'function' ? spec(vars) : spec;
}

/** The steps of a phase as they would run with these vars (for review, dry runs and golden files). */
export function renderPhase(flow: OracleFlow, phase: FlowPhase, vars: FlowVars): string {
  const steps = (flow.phases[phase] ?? []).map((s) => resolve(s, vars));
  return steps
    .map((s, i) => {
      const head = `-- ${phase} ${i + 1}: ${s.name} [${s.kind} on ${s.on}]`;
      switch (s.kind) {
        case 'sql':
          return `${head}\n${s.sql}${s.binds ? `\n-- binds: ${JSON.stringify(s.binds)}` : ''}${s.capture ? `\n-- captures ${s.capture.into}` : ''}`;
        case 'rman':
          return `${head}\n$ ${(s.argv ?? RMAN_ARGV).join(' ')} <<EOF\n${redact(s.script)}EOF`;
        case 'dgmgrl':
          return `${head}\n$ ${DGMGRL_ARGV.join(' ')} <<EOF\n${redact(s.script)}EOF`;
        case 'command':
          return `${head}\n$ ${s.argv.join(' ')}${s.capture ? `\n-- captures ${s.capture.into}` : ''}`;
        case 'set':
          return `${head}\n${s.into} := ${s.value}`;
      }
    })
    .join('\n\n');
}

function captured(step: { name: string }, c: Capture, value: unknown): string {
  const v = cellText(value).trim();
  if (!c.pattern.test(v)) throw new OracleStepFailed(`${step.name}: got '${v.slice(0, 200)}', expected ${c.pattern}`);
  return v;
}

export interface StepEvent {
  phase: FlowPhase;
  index: number;
  step: FlowStep;
  state: 'started' | 'done';
}

/** Run one phase's steps in order; returns the vars with anything captured. Stops at the first failure. */
export async function runPhase(
  flow: OracleFlow,
  phase: FlowPhase,
  runners: FlowRunners,
  vars: FlowVars = {},
  onStep?: (e: StepEvent) => void,
): Promise<FlowVars> {
  const out: Record<string, string> = { ...vars };
  const specs = flow.phases[phase] ?? [];
  for (let index = 0; index < specs.length; index++) {
    const step = resolve(specs[index]!, out);
    onStep?.({ phase, index, step, state: 'started' });
    switch (step.kind) {
      case 'set':
        out[step.into] = captured(step, { into: step.into, pattern: step.pattern }, step.value);
        break;
      case 'sql': {
        const runner = runners.sql[step.on];
        let rows: unknown[][];
        try {
          rows = await runner.execute(step.sql, step.binds);
        } catch (err) {
          const msg = err instanceof Error ? err.message : String(err);
          throw new OracleStepFailed(`${step.name} failed on ${runner.description}: ${oracleErrors(msg).join('; ') || msg}`, { cause: err });
        }
        const first = rows[0]?.[0];
        if (step.capture) out[step.capture.into] = captured(step, step.capture, first);
        if (step.expect && cellText(first) !== step.expect.value) throw new OracleStepFailed(`${step.name}: ${step.expect.message} (found '${cellText(first)}')`);
        break;
      }
      case 'rman':
      case 'dgmgrl':
      case 'command': {
        const runner = runners.host[step.on];
        const argv = step.kind === 'rman' ? (step.argv ?? RMAN_ARGV) : step.kind === 'dgmgrl' ? DGMGRL_ARGV : step.argv;
        const r = await runner.run(argv, step.kind === 'command' ? undefined : step.script);
        const output = `${r.stdout}\n${r.stderr}`;
        const errors = step.kind === 'command' ? [] : oracleErrors(output);
        if (r.code !== 0 || errors.length > 0) {
          const detail = errors.length > 0 ? errors.slice(0, 5).join('; ') : r.stderr.trim().split('\n').slice(-3).join(' | ');
          throw new OracleStepFailed(`${step.name} failed on ${runner.description} (exit ${r.code}): ${redact(detail)}`);
        }
        if (step.kind === 'dgmgrl' && step.check) {
          const problem = step.check(r.stdout);
          if (problem) throw new OracleStepFailed(`${step.name} on ${runner.description}: ${problem}`);
        }
        if (step.kind === 'command' && step.capture) {
          const line = r.stdout.split('\n').map((l) => l.trim()).filter(Boolean).sort().pop();
          out[step.capture.into] = captured(step, step.capture, line);
        }
        break;
      }
    }
    onStep?.({ phase, index, step, state: 'done' });
  }
  return out;
}
