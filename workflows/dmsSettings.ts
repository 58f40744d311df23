// The `dms` block of an aws-dms migration spec. Pure zod, imports nothing of Ferry's: spec.ts can
// import it without an import cycle (see docs/dms.md, "Wiring").
//
// Credentials never appear here: each endpoint names a Secrets Manager secret (ARN or name) that
// DMS itself reads through `secretsManagerAccessRoleArn`. Ferry never reads the secret's value.
import { z } from 'zod';

const arn = (what: string) =>
  z.string().regex(/^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]*:\d{12}:\S+$/, { message: `must be the ARN of ${what} (arn:aws:...)` });

/** DMS engine names Ferry knows how to configure (the endpoint settings block differs per engine). */
export const DMS_ENGINE_NAMES = [
  'postgres',
  'aurora-postgresql',
  'mysql',
  'aurora',
  'mariadb',
  'oracle',
  'sqlserver',
  'db2',
  'sybase',
] as const;

export const dmsEndpointSettingsSchema = z
  .object({
    /** DMS EngineName of this side (`postgres`, `aurora-postgresql`, `mysql`, `oracle`, ...). */
    engineName: z.enum(DMS_ENGINE_NAMES).default('postgres'),
    /** Secrets Manager secret (ARN or name) holding the connection details DMS uses: never a value. */
    secretId: z.string().min(1).regex(/^[A-Za-z0-9/_+=.@:-]+$/, { message: 'must be a Secrets Manager secret ARN or name' }),
    /** Database name on this side; defaults to the spec's source/target `database`. */
    databaseName: z.string().min(1).optional(),
  })
  .strict();

const dmsIdentifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9._ -]{0,254}$/, { message: 'must start with a letter (letters, digits, . _ - and spaces)' });

export const dmsSettingsSchema = z
  .object({
    /** AWS region; default: the worker's (AWS_REGION / profile). */
    region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, { message: 'must be an AWS region such as eu-central-1' }).optional(),
    replicationInstanceClass: z.string().regex(/^dms\.[a-z0-9]+\.[a-z0-9]+$/, { message: 'must be a DMS instance class such as dms.t3.medium' }).default('dms.t3.medium'),
    allocatedStorageGb: z.number().int().min(5).max(6144).default(50),
    engineVersion: z.string().min(1).optional(),
    multiAz: z.boolean().default(false),
    publiclyAccessible: z.boolean().default(false),
    /** Subnets of the replication subnet group Ferry creates (at least two AZs on real AWS). */
    subnetIds: z.array(z.string().min(1)).default([]),
    /** Use this existing replication subnet group instead: Ferry neither creates nor deletes it. */
    replicationSubnetGroupId: dmsIdentifier.optional(),
    vpcSecurityGroupIds: z.array(z.string().min(1)).default([]),
    /** IAM role DMS assumes to read the endpoints' Secrets Manager secrets. */
    secretsManagerAccessRoleArn: arn('an IAM role DMS assumes to read the secrets'),
    source: dmsEndpointSettingsSchema,
    target: dmsEndpointSettingsSchema,
    /** What DMS does to target tables before the full load (DMS's default: DROP_AND_CREATE). */
    targetTablePrepMode: z.enum(['DROP_AND_CREATE', 'TRUNCATE_BEFORE_LOAD', 'DO_NOTHING']).default('DROP_AND_CREATE'),
    /** Premigration assessment run after provisioning; its results join the precheck report. Omitted: none. */
    assessment: z
      .object({
        serviceAccessRoleArn: arn('an IAM role DMS assumes to write assessment results to S3'),
        resultsBucket: z.string().min(3),
        resultsFolder: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    /**
     * Where CDC lag comes from. DMS publishes it only as the CloudWatch metrics CDCLatencySource and
     * CDCLatencyTarget (the DMS API does not return it): `cloudwatch` needs a lag reader on the worker;
     * `none` gates the cutover on approval and window alone (the precheck warns).
     */
    lagSource: z.enum(['cloudwatch', 'none']).default('cloudwatch'),
    /** Cutover stops the task once the target latency is at or under this (the drained point). */
    drainedLagSeconds: z.number().min(0).default(1),
    /** Extra ReplicationTaskSettings merged over Ferry's (advanced; see the DMS task settings reference). */
    taskSettings: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.subnetIds.length === 0 && !s.replicationSubnetGroupId) {
      ctx.addIssue({ code: 'custom', path: ['subnetIds'], message: 'give subnetIds (Ferry creates a subnet group) or replicationSubnetGroupId (an existing one)' });
    }
    if (s.subnetIds.length > 0 && s.replicationSubnetGroupId) {
      ctx.addIssue({ code: 'custom', path: ['replicationSubnetGroupId'], message: 'give either subnetIds or replicationSubnetGroupId, not both' });
    }
  });

export type DmsSettings = z.infer<typeof dmsSettingsSchema>;
export type DmsEndpointSettings = z.infer<typeof dmsEndpointSettingsSchema>;
