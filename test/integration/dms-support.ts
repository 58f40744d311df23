// Shared by the dms-* integration tests: moto's endpoint, AWS clients, a spec for an aws-dms
// migration, and an inventory of DMS resources that does not go through Ferry's own adapter.
import { randomBytes } from 'node:crypto';
import {
  DescribeEndpointsCommand,
  DescribeReplicationInstancesCommand,
  DescribeReplicationSubnetGroupsCommand,
  DescribeReplicationTasksCommand,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-database-migration-service';
import { CreateSecretCommand } from '@aws-sdk/client-secrets-manager';
import { createDmsClients, type DmsClientConfig, type DmsClients } from '../../activities/adapters/dms/client';
import type { DmsLagReader } from '../../activities/adapters/dms/lag';
import type { DmsMigrationSpecInput } from '../../workflows/dmsSpec';

export const motoEndpoint = process.env.FERRY_DMS_ENDPOINT ?? `http://127.0.0.1:${process.env.FERRY_MOTO_PORT ?? 5055}`;

export const motoConfig: DmsClientConfig = {
  dmsEndpoint: motoEndpoint,
  secretsManagerEndpoint: motoEndpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
  // moto answers actions it lacks with HTTP 500: one retry is enough to see that.
  maxAttempts: 2,
};

export function motoClients(): DmsClients {
  return createDmsClients(motoConfig);
}

export const ROLE_ARN = 'arn:aws:iam::123456789012:role/ferry-dms-secrets';

/** A Secrets Manager secret in moto holding connection details, as a DBA would create it. */
export async function createSecret(clients: DmsClients, name: string, password: string): Promise<string> {
  const out = await clients.secrets.send(
    new CreateSecretCommand({
      Name: name,
      SecretString: JSON.stringify({ username: 'ferry', password, host: 'db.internal', port: 5432, engine: 'postgres' }),
    }),
  );
  return out.ARN!;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export function dmsSpec(name: string, secrets: { source: string; target: string }, overrides: Partial<DmsMigrationSpecInput> = {}): DmsMigrationSpecInput {
  return {
    name,
    engine: 'aws-dms',
    mode: 'online',
    source: { host: 'source.internal', port: 5432, database: 'shop', user: 'ferry' },
    target: { host: 'target.internal', port: 5432, database: 'shop', user: 'ferry' },
    tables: { include: ['public.*', 'sales.order?'], exclude: ['public.tmp_*'] },
    rename: { schemas: { sales: 'sales_v2' }, tables: { 'public.users': 'customers' }, columns: { 'public.users.email': 'email_address' } },
    cutover: { requireApproval: false, maxLagSeconds: 5 },
    dms: {
      subnetIds: ['subnet-aaa', 'subnet-bbb'],
      secretsManagerAccessRoleArn: ROLE_ARN,
      source: { engineName: 'postgres', secretId: secrets.source },
      target: { engineName: 'postgres', secretId: secrets.target },
    },
    ...overrides,
  };
}

/** Stands in for CloudWatch's CDCLatencySource/Target, which moto's DMS does not publish. */
export function stubLagReader(seconds: () => number = () => 0): DmsLagReader {
  return {
    description: 'test stand-in for CloudWatch AWS/DMS CDCLatency*',
    read() {
      const s = seconds();
      return Promise.resolve({ sourceSeconds: s, targetSeconds: s, at: new Date() });
    },
  };
}

export interface Inventory {
  tasks: { id: string; arn: string; status?: string; migrationType?: string; tableMappings?: string; settings?: string }[];
  endpoints: { id: string; arn: string; type?: string; settings?: Record<string, unknown>; raw: Record<string, unknown> }[];
  instances: { id: string; arn: string; status?: string }[];
  subnetGroups: { id: string }[];
}

/** Everything in moto's DMS whose tag ferry:migration-id is `migrationId` (subnet groups: by name). */
export async function inventory(clients: DmsClients, migrationId: string, subnetGroupPrefix?: string): Promise<Inventory> {
  const dms = clients.dms;
  const tasks = (await dms.send(new DescribeReplicationTasksCommand({}))).ReplicationTasks ?? [];
  const endpoints = (await dms.send(new DescribeEndpointsCommand({}))).Endpoints ?? [];
  const instances = (await dms.send(new DescribeReplicationInstancesCommand({}))).ReplicationInstances ?? [];
  const groups = (await dms.send(new DescribeReplicationSubnetGroupsCommand({}))).ReplicationSubnetGroups ?? [];
  const arns = [...tasks.map((t) => t.ReplicationTaskArn!), ...endpoints.map((e) => e.EndpointArn!), ...instances.map((i) => i.ReplicationInstanceArn!)];
  const owner = new Map<string, string>();
  if (arns.length) {
    const tags = (await dms.send(new ListTagsForResourceCommand({ ResourceArnList: arns }))).TagList ?? [];
    for (const t of tags) if (t.Key === 'ferry:migration-id') owner.set(t.ResourceArn!, t.Value!);
  }
  const ours = (arn?: string) => arn !== undefined && owner.get(arn) === migrationId;
  return {
    tasks: tasks
      .filter((t) => ours(t.ReplicationTaskArn))
      .map((t) => ({ id: t.ReplicationTaskIdentifier!, arn: t.ReplicationTaskArn!, status: t.Status, migrationType: t.MigrationType, tableMappings: t.TableMappings, settings: t.ReplicationTaskSettings })),
    endpoints: endpoints
      .filter((e) => ours(e.EndpointArn))
      .map((e) => ({ id: e.EndpointIdentifier!, arn: e.EndpointArn!, type: e.EndpointType, settings: e.PostgreSQLSettings as Record<string, unknown> | undefined, raw: e as Record<string, unknown> })),
    instances: instances.filter((i) => ours(i.ReplicationInstanceArn)).map((i) => ({ id: i.ReplicationInstanceIdentifier!, arn: i.ReplicationInstanceArn!, status: i.ReplicationInstanceStatus })),
    subnetGroups: groups
      .filter((g) => subnetGroupPrefix !== undefined && g.ReplicationSubnetGroupIdentifier!.startsWith(subnetGroupPrefix))
      .map((g) => ({ id: g.ReplicationSubnetGroupIdentifier! })),
  };
}

export function count(inv: Inventory): number {
  return inv.tasks.length + inv.endpoints.length + inv.instances.length + inv.subnetGroups.length;
}

export { waitFor } from '../support/wait';
