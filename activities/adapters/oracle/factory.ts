// The Oracle engines as a worker registers them, built from each migration's spec at call time:
// 'pg-to-oracle' (DTS style) and the El Carro flows 'oracle-datapump', 'oracle-rman' and
// 'oracle-dataguard', whose flow configuration and runners come from the spec's `oracle` block.
// The runners are the boundary tests replace: SQL sessions (SqlRunner), host or kubectl exec
// commands (CommandRunner), and the target session of pg-to-oracle (OracleSession).
import { createHash } from 'node:crypto';
import type oracledb from 'oracledb';
import type { MigrationSpec } from '../../../workflows/spec';
import type { OracleRunnerSettings } from '../../../workflows/oracleSettings';
import type { EngineContext, MigrationEngine } from '../engine';
import { PrecheckFailed } from '../errors';
import type { SecretResolver } from '../secrets';
import { connectOracle, oracleEndpointFrom, type OracleEndpoint } from './connection';
import { dataGuardFlow, type DataGuardConfig } from './dataguard';
import { dataPumpFlow } from './datapump';
import type { FlowRunners, OracleFlow, Side } from './flow';
import { memoryVarsStore, OracleFlowEngine, type FlowEngineDeps, type FlowVarsStore } from './flowEngine';
import { PgToOracleEngine, type PgToOracleOptions } from './pgToOracle';
import { rmanMigrationFlow } from './rman';
import { hostRunner, kubectlExecRunner, oracledbSqlRunner, type CommandRunner, type SqlRunner } from './runner';
import type { Staging } from './staging';

export type OracleEngines = Record<'pg-to-oracle' | 'oracle-datapump' | 'oracle-rman' | 'oracle-dataguard', MigrationEngine>;

export interface OpenedSql {
  runner: SqlRunner;
  close(): Promise<void>;
}

export interface OracleEngineDeps {
  /** Resolves the Data Guard password reference (the worker's resolver). */
  secrets: SecretResolver;
  /** Values the flows carry between phases (SCNs, file names). Default: this process's memory. */
  vars?: FlowVarsStore;
  /** A SQL session on one side. Default: node-oracledb (thin), connected at its first statement. */
  openSql?: (side: Side, ep: OracleEndpoint) => OpenedSql;
  /** Where one side's scripts and commands run. Default: hostRunner or kubectlExecRunner, as spec.oracle.runners says. */
  commandRunner?: (side: Side, settings: OracleRunnerSettings) => CommandRunner;
  /** pg-to-oracle: a session on the Oracle target. Default: connectOracle. */
  connectOracle?: PgToOracleOptions['connect'];
  onStep?: FlowEngineDeps['onStep'];
}

/**
 * A session opened only when a step first needs it: an RMAN restore target is NOMOUNT (no SQL
 * session possible), and most phases use SQL on one side only.
 */
export function lazyOracleSql(side: Side, ep: OracleEndpoint): OpenedSql {
  const description = `${side} database ${ep.user}@${ep.descriptor ? 'descriptor' : `${ep.host}:${ep.port}`}`;
  let conn: Promise<oracledb.Connection> | undefined;
  return {
    runner: {
      description,
      async execute(sql, binds) {
        conn ??= connectOracle(ep);
        return oracledbSqlRunner(await conn, description).execute(sql, binds);
      },
    },
    async close() {
      const c = await conn?.catch(() => undefined);
      await c?.close().catch(() => undefined);
    },
  };
}

export function defaultCommandRunner(_side: Side, settings: OracleRunnerSettings): CommandRunner {
  return settings.kind === 'host' ? hostRunner() : kubectlExecRunner(settings);
}

/** A name for Oracle jobs, tags and configurations from the spec name: [A-Za-z0-9_], a letter first, at most `max` long (a hash keeps long ones apart). */
export function shortName(name: string, max = 20): string {
  const base = (/^[A-Za-z]/.test(name) ? name : `m${name}`).replace(/[^A-Za-z0-9_]/g, '_');
  if (base.length <= max) return base;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 6);
  return `${base.slice(0, max - 7)}_${hash}`;
}

function oracleBlock(spec: MigrationSpec): NonNullable<MigrationSpec['oracle']> {
  if (!spec.oracle) throw new PrecheckFailed(`engine ${spec.engine} needs the spec's oracle block`);
  return spec.oracle;
}

function need<T>(value: T | undefined, what: string, engine: string): T {
  if (value === undefined) throw new PrecheckFailed(`engine ${engine} needs ${what} in the spec`);
  return value;
}

function stagingOf(spec: MigrationSpec): Staging {
  const s = need(oracleBlock(spec).staging, 'oracle.staging', spec.engine);
  return { bucket: s.bucket, prefix: s.prefix ?? `ferry/${spec.name}`, sourceDir: s.sourceDir, targetDir: s.targetDir };
}

/** The flow of a migration, from its spec (the Data Guard password resolved here, inside the activity). */
export async function oracleFlowFor(spec: MigrationSpec, secrets: SecretResolver): Promise<OracleFlow> {
  const o = oracleBlock(spec);
  switch (spec.engine) {
    case 'oracle-datapump': {
      const dp = need(o.dataPump, 'oracle.dataPump', spec.engine);
      return dataPumpFlow({
        id: shortName(spec.name),
        schemas: dp.schemas,
        remapSchemas: spec.rename.schemas,
        directory: dp.directory,
        staging: stagingOf(spec),
        parallel: dp.parallel ?? spec.parallelism,
        tableExistsAction: dp.tableExistsAction,
        ...(dp.version !== undefined ? { version: dp.version } : {}),
      });
    }
    case 'oracle-rman': {
      const r = need(o.rman, 'oracle.rman', spec.engine);
      return rmanMigrationFlow({
        tag: shortName(spec.name),
        staging: stagingOf(spec),
        channels: r.channels,
        targetDataDir: r.targetDataDir,
        fenceSchemas: r.fenceSchemas,
        compressed: r.compressed,
        ...(r.serverUtcOffsetMinutes !== undefined ? { serverUtcOffsetMinutes: r.serverUtcOffsetMinutes } : {}),
      });
    }
    case 'oracle-dataguard': {
      const dg = need(o.dataGuard, 'oracle.dataGuard', spec.engine);
      const credentials: DataGuardConfig['credentials'] =
        dg.credentials.kind === 'wallet'
          ? { kind: 'wallet' }
          : { kind: 'password', user: dg.credentials.user, password: await secrets(dg.credentials.password, 'oracle.dataGuard.credentials.password') };
      return dataGuardFlow({
        configuration: dg.configuration ?? shortName(`ferry_${spec.name}`, 30),
        primary: dg.primary,
        standby: dg.standby,
        credentials,
        maxLagSeconds: dg.maxLagSeconds ?? spec.cutover.maxLagSeconds,
      });
    }
    default:
      throw new PrecheckFailed(`engine ${spec.engine} is not an Oracle -> Oracle flow`);
  }
}

/** Both sides' runners for a flow: SQL sessions (lazy) and the command runners the spec names. */
export function openFlowRunners(deps: OracleEngineDeps, ctx: EngineContext): Promise<{ runners: FlowRunners; close(): Promise<void> }> {
  const settings = need(oracleBlock(ctx.spec).runners, 'oracle.runners', ctx.spec.engine);
  const openSql = deps.openSql ?? lazyOracleSql;
  const commandRunner = deps.commandRunner ?? defaultCommandRunner;
  const sql = { source: openSql('source', oracleEndpointFrom(ctx.source)), target: openSql('target', oracleEndpointFrom(ctx.target)) };
  return Promise.resolve({
    runners: {
      sql: { source: sql.source.runner, target: sql.target.runner },
      host: { source: commandRunner('source', settings.source), target: commandRunner('target', settings.target) },
    },
    close: async () => {
      await Promise.all([sql.source.close(), sql.target.close()]);
    },
  });
}

/** The four Oracle engines for the worker's engines map. */
export function createOracleEngines(deps: OracleEngineDeps): OracleEngines {
  const vars = deps.vars ?? memoryVarsStore();
  const flowEngine = () =>
    new OracleFlowEngine({
      flowFor: (ctx) => oracleFlowFor(ctx.spec, deps.secrets),
      openRunners: (ctx) => openFlowRunners(deps, ctx),
      vars,
      ...(deps.onStep ? { onStep: deps.onStep } : {}),
    });
  return {
    // The empty-string policy is read from each ctx.spec (oracle.emptyStrings).
    'pg-to-oracle': new PgToOracleEngine(deps.connectOracle ? { connect: deps.connectOracle } : {}),
    'oracle-datapump': flowEngine(),
    'oracle-rman': flowEngine(),
    'oracle-dataguard': flowEngine(),
  };
}
