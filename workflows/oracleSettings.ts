// The `oracle` block of a migration spec, for the engines pg-to-oracle, oracle-datapump,
// oracle-rman and oracle-dataguard (docs/oracle.md). Pure zod, imports nothing of Ferry's:
// spec.ts can import it without an import cycle (like dmsSettings.ts).
//
// Oracle endpoints use the spec's ordinary source/target fields. `database` names the database:
// a service name (`ORCLPDB1`), `sid:ORCL` for a SID, or a full `(DESCRIPTION=...)` descriptor.
// `port` must be given (usually 1521): the spec's default, 5432, is PostgreSQL's. Passwords are
// secret references, as everywhere in the spec. The adapter checks names and paths again before
// any of them goes into a script.
import { z } from 'zod';

export const ORACLE_ENGINES = ['pg-to-oracle', 'oracle-datapump', 'oracle-rman', 'oracle-dataguard'] as const;
export type OracleEngineName = (typeof ORACLE_ENGINES)[number];
/** The El Carro Oracle -> Oracle flows (they need `oracle.staging` / `oracle.runners`). */
export const ORACLE_FLOW_ENGINES = ['oracle-datapump', 'oracle-rman', 'oracle-dataguard'] as const;
/**
 * Oracle engines the spec accepts in mode online. None yet: Data Pump is offline by nature,
 * pg-to-oracle's change apply is not wired, and the RMAN / Data Guard catch-up loop needs the
 * workflow to call the catchUp / oracleCutover activities (docs/oracle.md, "Workflow wiring").
 */
export const ONLINE_ORACLE_ENGINES: readonly OracleEngineName[] = [];

/** The same secret reference as spec.ts's (repeated here so this file imports nothing of Ferry's). */
const secretRef = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:\S.*)$/, { message: 'must be a secret reference, env:NAME or file:PATH (plaintext passwords are refused)' });

/** Oracle names that go into scripts without binds: DB_UNIQUE_NAME, directory objects, broker configuration. */
const simpleName = (max: number) =>
  z.string().regex(new RegExp(`^[A-Za-z][A-Za-z0-9_$#]{0,${max - 1}}$`), { message: `must be 1-${max} of [A-Za-z0-9_$#], starting with a letter` });
const absolutePath = z.string().regex(/^\/(?!.*\.\.)[A-Za-z0-9_./-]*$/, { message: "must be an absolute path of [A-Za-z0-9_./-] without '..'" });
/** A TNS alias or host:port/service, as RMAN and DGMGRL CONNECT lines take it. */
const connectIdentifier = z.string().regex(/^[A-Za-z0-9_.:/-]+$/, { message: 'must be a TNS alias or host:port/service' });
/** An Oracle user (schema) name, exact case, as Data Pump and the fence take it. */
const oracleUser = z.string().min(1).max(128).regex(/^[^"\0]+$/, { message: 'must not contain " or NUL' });

/** Where a side's RMAN/DGMGRL scripts and commands (gcloud, mkdir) run. */
export const oracleRunnerSchema = z.discriminatedUnion('kind', [
  /** On the worker's own host (the worker runs on the database host). */
  z.object({ kind: z.literal('host') }).strict(),
  /** `kubectl exec -i` into the database container (El Carro). */
  z
    .object({
      kind: z.literal('kubectl'),
      namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: 'must be a Kubernetes namespace name' }),
      pod: z.string().regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { message: 'must be a Kubernetes pod name' }),
      container: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: 'must be a container name' }).optional(),
      kubeconfig: absolutePath.optional(),
    })
    .strict(),
]);

export const oracleStagingSchema = z
  .object({
    /** GCS bucket the files travel through (El Carro's staging bucket). */
    bucket: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}$/, { message: 'must be a GCS bucket name' }),
    /** Folder in the bucket; default `ferry/<spec name>`. */
    prefix: z.string().regex(/^(?!.*\.\.)[A-Za-z0-9_./-]*$/, { message: "may only hold [A-Za-z0-9_./-], without '..'" }).optional(),
    /** Folders on the database hosts where files are written and read. */
    sourceDir: absolutePath,
    targetDir: absolutePath,
  })
  .strict();

export const oracleDataPumpSchema = z
  .object({
    /** Source schemas (Oracle users, exact case). Renames: spec `rename.schemas` becomes REMAP_SCHEMA. */
    schemas: z.array(oracleUser).min(1),
    /** Directory object created on both sides over the staging folders. */
    directory: simpleName(30).default('FERRY_DP'),
    /** Data Pump parallelism; default: the spec's `parallelism`. */
    parallel: z.number().int().min(1).max(64).optional(),
    tableExistsAction: z.enum(['SKIP', 'APPEND', 'TRUNCATE', 'REPLACE']).default('SKIP'),
    /** Export metadata compatible with this release (e.g. `12.2` for an older target); default COMPATIBLE. */
    version: z.string().regex(/^(COMPATIBLE|LATEST|\d{1,2}(\.\d{1,2}){0,3})$/, { message: 'must be COMPATIBLE, LATEST or a release like 12.2' }).optional(),
  })
  .strict();

export const oracleRmanSchema = z
  .object({
    /** RMAN channels on each side. */
    channels: z.number().int().min(1).max(16).default(2),
    /** Data files land here on the target (SET NEWNAME). */
    targetDataDir: absolutePath,
    /** Schemas whose sessions the fence ends (with RESTRICTED SESSION for the rest). */
    fenceSchemas: z.array(oracleUser).min(1),
    compressed: z.boolean().default(true),
    /** The source server's UTC offset, for recoveries UNTIL TIME. */
    serverUtcOffsetMinutes: z.number().int().min(-14 * 60).max(14 * 60).optional(),
  })
  .strict();

export const oracleDataGuardSchema = z
  .object({
    /** Broker configuration name; default `ferry_<spec name>` (shortened). */
    configuration: simpleName(30).optional(),
    primary: z.object({ dbUniqueName: simpleName(30), connectIdentifier }).strict(),
    standby: z
      .object({
        dbUniqueName: simpleName(30),
        connectIdentifier,
        /** Data files on the standby host, and where they are on the primary (db_file_name_convert). */
        dataDir: absolutePath,
        sourceDataDir: absolutePath,
        logDir: absolutePath.optional(),
        sourceLogDir: absolutePath.optional(),
      })
      .strict(),
    /** How RMAN and DGMGRL authenticate: a wallet on the host (preferred) or a user and a secret reference. */
    credentials: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('wallet') }).strict(),
      z.object({ kind: z.literal('password'), user: simpleName(30), password: secretRef }).strict(),
    ]),
    /** Switch over only when the apply lag is at or under this; default: the spec's `cutover.maxLagSeconds`. */
    maxLagSeconds: z.number().min(0).optional(),
  })
  .strict()
  .superRefine((dg, ctx) => {
    if (dg.primary.dbUniqueName.toUpperCase() === dg.standby.dbUniqueName.toUpperCase()) {
      ctx.addIssue({ code: 'custom', path: ['standby', 'dbUniqueName'], message: 'must differ from the primary DB_UNIQUE_NAME' });
    }
    if ((dg.standby.logDir === undefined) !== (dg.standby.sourceLogDir === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['standby', 'logDir'], message: 'give logDir and sourceLogDir together (log_file_name_convert)' });
    }
  });

export const oracleSettingsSchema = z
  .object({
    /** pg-to-oracle: what '' becomes (Oracle stores '' as NULL). null (default), space (' '), or reject. */
    emptyStrings: z.enum(['null', 'space', 'reject']).default('null'),
    /** Flow engines: where files are staged between the hosts. */
    staging: oracleStagingSchema.optional(),
    /** Flow engines: where each side's scripts and commands run. */
    runners: z.object({ source: oracleRunnerSchema, target: oracleRunnerSchema }).strict().optional(),
    dataPump: oracleDataPumpSchema.optional(),
    rman: oracleRmanSchema.optional(),
    dataGuard: oracleDataGuardSchema.optional(),
  })
  .strict();

export type OracleSettings = z.infer<typeof oracleSettingsSchema>;
export type OracleRunnerSettings = z.infer<typeof oracleRunnerSchema>;

type Issue = { path: (string | number)[]; message: string };

/**
 * What an Oracle engine needs from the block (spec.ts's superRefine reports these under `oracle`).
 * Also the mode: Data Pump is offline by nature, pg-to-oracle has no change apply wired, and
 * the RMAN / Data Guard catch-up loop is not wired into the workflow yet (docs/oracle.md).
 */
export function oracleSettingsIssues(engine: OracleEngineName, mode: 'offline' | 'online', s: OracleSettings): Issue[] {
  const issues: Issue[] = [];
  if (mode === 'online' && !ONLINE_ORACLE_ENGINES.includes(engine)) issues.push({ path: ['mode'], message: `engine ${engine} runs offline only (docs/oracle.md)` });
  const need = (key: 'staging' | 'runners' | 'dataPump' | 'rman' | 'dataGuard') => {
    if (s[key] === undefined) issues.push({ path: ['oracle', key], message: `is required when engine is ${engine}` });
  };
  const refuse = (key: 'staging' | 'runners' | 'dataPump' | 'rman' | 'dataGuard') => {
    if (s[key] !== undefined) issues.push({ path: ['oracle', key], message: `does not apply to engine ${engine}` });
  };
  switch (engine) {
    case 'pg-to-oracle':
      (['staging', 'runners', 'dataPump', 'rman', 'dataGuard'] as const).forEach(refuse);
      break;
    case 'oracle-datapump':
      (['staging', 'runners', 'dataPump'] as const).forEach(need);
      (['rman', 'dataGuard'] as const).forEach(refuse);
      break;
    case 'oracle-rman':
      (['staging', 'runners', 'rman'] as const).forEach(need);
      (['dataPump', 'dataGuard'] as const).forEach(refuse);
      break;
    case 'oracle-dataguard':
      (['runners', 'dataGuard'] as const).forEach(need);
      (['staging', 'dataPump', 'rman'] as const).forEach(refuse);
      break;
  }
  return issues;
}
