// The migration spec: what a user writes (YAML or JSON) and what the workflow receives.
// Validated by the client before any workflow starts, and again by the workflow itself so a
// start from the Temporal UI or CLI with a bad payload fails with the same named-field errors.
// Pure zod, no I/O: safe inside the workflow sandbox.
import { z } from 'zod';
import { isValidTimeZone } from './window';
import { dmsSettingsSchema } from './dmsSettings';
import { ORACLE_ENGINES, oracleSettingsIssues, oracleSettingsSchema, type OracleEngineName } from './oracleSettings';

/** A secret is named, never carried: only activities resolve it (env var or file on the worker). */
export const secretRefSchema = z
  .string()
  .regex(/^(env:[A-Za-z_][A-Za-z0-9_]*|file:\S.*)$/, {
    message:
      'must be a secret reference, env:NAME or file:PATH (plaintext passwords are refused so they never enter workflow history)',
  });

export const endpointSchema = z
  .object({
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535).default(5432),
    database: z.string().min(1),
    user: z.string().min(1),
    password: secretRefSchema.optional(),
    sslmode: z.enum(['disable', 'prefer', 'require', 'verify-ca', 'verify-full']).default('prefer'),
  })
  .strict();

/** `schema.table` glob: `*` any run of characters, `?` one character. */
const tablePattern = z
  .string()
  .regex(/^[^.]+\.[^.]+$/, { message: 'must look like schema.table (globs * and ? allowed), e.g. public.* or sales.order?' });

const windowTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, { message: 'must be HH:MM (24h)' });

export const cutoverSchema = z
  .object({
    /** Wait for a person's approval (Update `approveCutover` or Signal `approve`) before cutting over. */
    requireApproval: z.boolean().default(true),
    /** Cut over only inside this daily window, in the given IANA time zone. */
    window: z
      .object({
        start: windowTime,
        end: windowTime,
        timeZone: z.string().min(1).refine(isValidTimeZone, { message: 'is not a known IANA time zone (e.g. Europe/Berlin)' }).default('UTC'),
      })
      .strict()
      .optional(),
    /** Online mode: cut over only when replication lag is at or under this many seconds... */
    maxLagSeconds: z.number().positive().default(5),
    /** ...for at least this long. */
    lagSustainSeconds: z.number().min(0).default(10),
  })
  .strict();

/** The spec's fields without the cross-field rules (engine-specific variants extend this). */
export const migrationSpecBaseSchema = z
  .object({
    /** Lower-case name, used in the workflow id (`ferry-<name>`) and shown in the UI. */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, { message: 'must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit' }),
    engine: z.enum(['native-postgres', 'aws-dms', ...ORACLE_ENGINES]).default('native-postgres'),
    /** offline: fence the source, copy, validate. online: copy while capturing changes, cut over on lag. */
    mode: z.enum(['offline', 'online']).default('offline'),
    source: endpointSchema,
    target: endpointSchema,
    tables: z
      .object({
        include: z.array(tablePattern).min(1).default(['*.*']),
        exclude: z.array(tablePattern).default([]),
      })
      .strict()
      .default({ include: ['*.*'], exclude: [] }),
    rename: z
      .object({
        /** source schema -> target schema */
        schemas: z.record(z.string().min(1), z.string().min(1)).default({}),
        /** `schema.table` (source) -> new table name (in the mapped schema) */
        tables: z.record(tablePattern, z.string().min(1).regex(/^[^.]+$/, { message: 'is a table name without a schema' })).default({}),
        /** `schema.table.column` (source) -> new column name */
        columns: z
          .record(
            z.string().regex(/^[^.]+\.[^.]+\.[^.]+$/, { message: 'must look like schema.table.column' }),
            z.string().min(1),
          )
          .default({}),
      })
      .strict()
      .default({ schemas: {}, tables: {}, columns: {} }),
    /** Concurrent copy streams during the full load. */
    parallelism: z.number().int().min(1).max(64).default(4),
    fullLoad: z
      .object({
        /** A table that is split (see wholeTableMaxMB) is split into ctid or key ranges of about this size. */
        chunkTargetMB: z.number().int().min(1).max(1_000_000).default(256),
        /**
         * Tables up to this size load whole: one chunk, TRUNCATE + COPY FREEZE in one transaction, so
         * the target never writes their pages again to set hint bits or freeze them (a split table's
         * first scan does, its primary key build for one), and loading costs the target ~10 % less
         * CPU. Bigger tables are split, and so is the load's long pole (splitLongPole). It also
         * bounds what a killed worker loses: one chunk. 0 splits every table over chunkTargetMB.
         */
        wholeTableMaxMB: z.number().int().min(0).max(1_000_000).default(4096),
        /**
         * A table over 1.5 x an even stream's share of the load would, whole, hold the load's end
         * back while the other streams idle; split, every stream works on it. `auto` splits it
         * unless source, target and this worker are one machine with no more cores than streams:
         * there each stream keeps a source and a target backend busy, the streams already compete
         * for every core, and splitting only adds work (no COPY FREEZE, range scans).
         */
        splitLongPole: z.enum(['auto', 'always', 'never']).default('auto'),
        /**
         * maintenance_work_mem of each index build on the target, in MB (never below the target's
         * own setting). Up to `parallelism` builds run at once. At 1024 a 5M-row primary key sorts in
         * memory: 1.4 s instead of 1.8 s next to a running COPY, and a third less CPU.
         */
        indexMemoryMB: z.number().int().min(1).max(2_097_151).default(1024),
        /**
         * max_parallel_maintenance_workers of each index build on the target. 0 by default: Ferry
         * builds a table's indexes while the other streams still copy, and parallel workers would
         * compete with them for the same cores. Raise it for a target with cores to spare.
         */
        indexParallelWorkers: z.number().int().min(0).max(64).default(0),
      })
      .strict()
      .default({ chunkTargetMB: 256, wholeTableMaxMB: 4096, splitLongPole: 'auto', indexMemoryMB: 1024, indexParallelWorkers: 0 }),
    cutover: cutoverSchema.default({ requireApproval: true, maxLagSeconds: 5, lagSustainSeconds: 10 }),
    /** Online mode: change data capture. */
    cdc: z
      .object({
        /** A CDC activity streams this long before the workflow looks at the gate again. */
        sliceSeconds: z.number().int().min(1).max(3600).default(30),
        /** How often the heartbeat table on the source is written (lag in seconds, as DTS does). */
        heartbeatIntervalSeconds: z.number().min(0.1).max(60).default(1),
      })
      .strict()
      .default({ sliceSeconds: 30, heartbeatIntervalSeconds: 1 }),
    fence: z
      .object({
        /** Offline mode makes the source read-only before the copy and until cleanup. */
        enabled: z.boolean().default(true),
        /** End sessions that were open before the fence, so none keeps writing. */
        terminateSessions: z.boolean().default(true),
      })
      .strict()
      .default({ enabled: true, terminateSessions: true }),
    validation: z
      .object({
        /** counts: row counts; checksums: counts + checksums per key range, narrowed to rows on mismatch; full: every row's hash compared. */
        level: z.enum(['none', 'counts', 'checksums', 'full']).default('checksums'),
        /** Differing rows reported per table at most. */
        maxReportedRows: z.number().int().min(1).max(100_000).default(100),
      })
      .strict()
      .default({ level: 'checksums', maxReportedRows: 100 }),
    /** How long a step keeps retrying lost connections before it fails (DTS defaults to 12 hours). */
    connectionRetry: z
      .object({ windowSeconds: z.number().int().min(1).max(7 * 24 * 3600).default(12 * 3600) })
      .strict()
      .default({ windowSeconds: 12 * 3600 }),
    precheck: z
      .object({
        /** Precheck warnings accepted up front: item ids, or prefixes ending in `*` (e.g. `no-key:*`). */
        acknowledge: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({ acknowledge: [] }),
    cleanup: z
      .object({
        /** Keep Ferry's state schema on the target after success (an audit trail of chunks). */
        keepState: z.boolean().default(false),
      })
      .strict()
      .default({ keepState: false }),
    /** engine aws-dms only: replication instance, endpoints' Secrets Manager secrets, region... */
    dms: dmsSettingsSchema.optional(),
    /** Oracle engines only (pg-to-oracle, oracle-datapump, oracle-rman, oracle-dataguard): see docs/oracle.md. */
    oracle: oracleSettingsSchema.optional(),
  })
  .strict();

export const migrationSpecSchema = migrationSpecBaseSchema.superRefine((spec, ctx) => {
  if (spec.engine === 'aws-dms' && !spec.dms) {
    ctx.addIssue({ code: 'custom', path: ['dms'], message: 'is required when engine is aws-dms' });
  }
  if (spec.engine !== 'aws-dms' && spec.dms) {
    ctx.addIssue({ code: 'custom', path: ['dms'], message: `only applies to engine aws-dms, not ${spec.engine}` });
  }
  const oracleEngine = (ORACLE_ENGINES as readonly string[]).includes(spec.engine) ? (spec.engine as OracleEngineName) : undefined;
  if (oracleEngine && !spec.oracle) ctx.addIssue({ code: 'custom', path: ['oracle'], message: `is required when engine is ${spec.engine}` });
  if (!oracleEngine && spec.oracle) ctx.addIssue({ code: 'custom', path: ['oracle'], message: `only applies to the Oracle engines, not ${spec.engine}` });
  if (oracleEngine && spec.oracle) {
    for (const issue of oracleSettingsIssues(oracleEngine, spec.mode, spec.oracle)) ctx.addIssue({ code: 'custom', ...issue });
  }
});

export type MigrationSpec = z.infer<typeof migrationSpecSchema>;
export type MigrationSpecInput = z.input<typeof migrationSpecSchema>;
export type Endpoint = z.infer<typeof endpointSchema>;

export interface SpecIssue {
  /** Dotted field path, e.g. `source.port` or `rename.tables.public.users`. */
  path: string;
  message: string;
}

export class SpecError extends Error {
  constructor(readonly issues: SpecIssue[]) {
    super(`invalid migration spec:\n${issues.map((i) => `  - ${i.path || '(root)'}: ${i.message}`).join('\n')}`);
    this.name = 'SpecError';
  }
}

function issuePath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

/** Parse and default a spec, or throw a SpecError whose lines name each bad field. */
export function parseSpec(input: unknown): MigrationSpec {
  const result = migrationSpecSchema.safeParse(input);
  if (result.success) return result.data;
  throw new SpecError(
    result.error.issues.map((issue) => {
      // Unknown keys: name the key itself, which is what the user mistyped.
      if (issue.code === 'unrecognized_keys') {
        const base = issuePath(issue.path);
        return {
          path: issue.keys.map((k) => (base ? `${base}.${k}` : k)).join(', '),
          message: 'is not a known field',
        };
      }
      return { path: issuePath(issue.path), message: issue.message };
    }),
  );
}
