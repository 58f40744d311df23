// The aws-dms adapter against moto's server: the API calls, the resource lifecycle and the states.
// moto moves no data and lacks some DMS actions: those tests say so in their skip reason.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CreateEndpointCommand,
  DeleteEndpointCommand,
  DescribeTableStatisticsCommand,
  StartReplicationTaskAssessmentRunCommand,
} from '@aws-sdk/client-database-migration-service';
import { DmsAdapter, describeAwsError } from '../../activities/adapters/dms/adapter';
import { dmsNames, MIGRATION_TAG } from '../../activities/adapters/dms/names';
import { DmsResourceConflict } from '../../activities/adapters/dms/errors';
import type { DmsClients } from '../../activities/adapters/dms/client';
import { parseDmsSpec, type DmsMigrationSpec } from '../../workflows/dmsSpec';
import type { DmsResources } from '../../workflows/dmsTypes';
import { count, createSecret, dmsSpec, inventory, motoClients, stubLagReader, uniqueName } from './dms-support';

let clients: DmsClients;
let secrets: { source: string; target: string };

/** Ask moto whether it implements an action; the answer (an error text) is the skip reason. */
async function unsupported(call: () => Promise<unknown>): Promise<string | undefined> {
  try {
    await call();
    return undefined;
  } catch (err) {
    const text = describeAwsError(err);
    return /HTTP 5\d\d|not (yet )?implemented/i.test(text) ? text : undefined;
  }
}

beforeAll(async () => {
  clients = motoClients();
  secrets = {
    source: await createSecret(clients, uniqueName('ferry-src'), 'S0urce-Pa55-not-in-history'),
    target: await createSecret(clients, uniqueName('ferry-tgt'), 'T4rget-Pa55-not-in-history'),
  };
});

function setup(overrides = {}): { spec: DmsMigrationSpec; migrationId: string; adapter: DmsAdapter } {
  const name = uniqueName('dms-adapter');
  const spec = parseDmsSpec(dmsSpec(name, secrets, overrides));
  return { spec, migrationId: `ferry-${name}`, adapter: new DmsAdapter(clients, { pollMs: 50, lagReader: stubLagReader() }) };
}

async function provision(adapter: DmsAdapter, input: { migrationId: string; spec: DmsMigrationSpec }): Promise<DmsResources> {
  const net = await adapter.ensureNetwork(input);
  const eps = await adapter.ensureEndpoints(input);
  const task = await adapter.ensureTask(input, { ...net, ...eps });
  return { ...net, ...eps, ...task };
}

describe('aws-dms adapter on moto', () => {
  it('precheck: secrets described (not read), lag source, plan', async () => {
    const { adapter, spec, migrationId } = setup();
    const items = await adapter.precheck({ spec, migrationId }, true);
    expect(items.find((i) => i.id === 'dms-secret:source')?.status).toBe('pass');
    expect(items.find((i) => i.id === 'dms-secret:target')?.status).toBe('pass');
    expect(items.find((i) => i.id === 'dms-lag-source')?.status).toBe('pass');
    const missing = parseDmsSpec(dmsSpec(uniqueName('x'), { source: 'no-such-secret', target: secrets.target }));
    const bad = await adapter.precheck({ spec: missing, migrationId: 'ferry-x' }, false);
    expect(bad.find((i) => i.id === 'dms-secret:source')).toMatchObject({ status: 'fail' });
    expect(bad.find((i) => i.id === 'dms-lag-source')).toMatchObject({ status: 'fail' });
  });

  it('provisions tagged resources with Secrets Manager references, idempotently, and cleans up in order', async () => {
    const { adapter, spec, migrationId } = setup();
    const input = { spec, migrationId };
    const names = dmsNames(migrationId);
    const first = await provision(adapter, input);
    const again = await provision(adapter, input); // a retry: describe before create
    expect(again).toEqual(first);

    const inv = await inventory(clients, migrationId, names.subnetGroup);
    expect(inv.instances).toHaveLength(1);
    expect(inv.instances[0]?.status).toBe('available');
    expect(inv.endpoints.map((e) => e.type).sort()).toEqual(['source', 'target']);
    expect(inv.tasks).toHaveLength(1);
    expect(inv.subnetGroups).toHaveLength(1);
    for (const e of inv.endpoints) {
      expect(e.settings).toMatchObject({ SecretsManagerAccessRoleArn: spec.dms.secretsManagerAccessRoleArn, DatabaseName: 'shop' });
      expect(e.settings?.SecretsManagerSecretId).toBe(e.type === 'source' ? secrets.source : secrets.target);
      expect(e.raw.Password).toBeUndefined();
      expect(e.raw.Username).toBeUndefined();
    }
    const task = inv.tasks[0]!;
    expect(task.migrationType).toBe('full-load-and-cdc');
    const rules = (JSON.parse(task.tableMappings!) as { rules: unknown[] }).rules;
    expect(rules).toContainEqual(expect.objectContaining({ 'rule-action': 'include', 'object-locator': { 'schema-name': 'sales', 'table-name': 'order_' } }));
    expect(rules).toContainEqual(expect.objectContaining({ 'rule-action': 'exclude', 'object-locator': { 'schema-name': 'public', 'table-name': 'tmp[_]%' } }));
    expect(rules).toContainEqual(expect.objectContaining({ 'rule-target': 'column', value: 'email_address' }));
    expect(JSON.parse(task.settings!)).toMatchObject({ FullLoadSettings: { TargetTablePrepMode: 'DROP_AND_CREATE' }, ValidationSettings: { EnableValidation: true } });

    const conns = await adapter.testConnections(first);
    expect(conns.map((c) => [c.id, c.status])).toEqual([
      ['dms-connection:source', 'pass'],
      ['dms-connection:target', 'pass'],
    ]);

    const report = await adapter.cleanup(input);
    expect(report.deleted.map((d) => d.kind)).toEqual(['task', 'endpoint', 'endpoint', 'instance', 'subnet-group']);
    expect(count(await inventory(clients, migrationId, names.subnetGroup))).toBe(0);
    expect((await adapter.cleanup(input)).deleted).toEqual([]); // idempotent
  });

  it('starts, reads status, stops: full load over on DMS task statistics; lag from the lag reader', async () => {
    const { adapter, spec, migrationId } = setup();
    const input = { spec, migrationId };
    const res = await provision(adapter, input);
    // moto never moves a new task from `creating` to `ready`; DMS itself decides whether a start is allowed.
    const start = await adapter.startTask(res, 'full_load');
    expect(start.action).toBe('start-replication');
    expect((await adapter.startTask(res, 'cdc')).action).toBe('already-running');
    const snap = await adapter.snapshot(input, res);
    expect(snap).toMatchObject({ status: 'running', fullLoadPercent: 100, tablesLoading: 0, tablesQueued: 0, fullLoadDone: true });
    expect(snap.failure).toBeUndefined();
    expect(snap.lag).toMatchObject({ sourceSeconds: 0, targetSeconds: 0 });
    const stopped = await adapter.stopTask(input, res);
    expect(stopped.status).toBe('stopped');
    // A stopped task whose full load completed resumes from its checkpoint.
    expect((await adapter.startTask(res, 'cdc')).action).toBe('resume-processing');
    await adapter.cleanup(input);
    expect(count(await inventory(clients, migrationId, dmsNames(migrationId).subnetGroup))).toBe(0);
  });

  it('a resource under Ferry\'s identifier tagged for another migration is a conflict, never reused or deleted', async () => {
    const { adapter, spec, migrationId } = setup();
    const names = dmsNames(migrationId);
    // Someone else's endpoint under the identifier Ferry would use.
    await clients.dms.send(
      new CreateEndpointCommand({ EndpointIdentifier: names.sourceEndpoint, EndpointType: 'source', EngineName: 'postgres', Tags: [{ Key: MIGRATION_TAG, Value: 'ferry-someone-else' }] }),
    );
    const items = await adapter.precheck({ spec, migrationId }, true);
    expect(items.find((i) => i.id === `dms-conflict:${names.sourceEndpoint}`)?.status).toBe('fail');
    await expect(adapter.ensureEndpoints({ spec, migrationId })).rejects.toThrow(DmsResourceConflict);
    expect((await adapter.cleanup({ spec, migrationId })).deleted).toEqual([]);
    const theirs = await inventory(clients, 'ferry-someone-else');
    expect(theirs.endpoints.map((e) => e.id)).toEqual([names.sourceEndpoint]);
    await clients.dms.send(new DeleteEndpointCommand({ EndpointArn: theirs.endpoints[0]!.arn }));
  });

  it('table statistics per table (DescribeTableStatistics)', async (ctx) => {
    const { adapter, spec, migrationId } = setup();
    const input = { spec, migrationId };
    const res = await provision(adapter, input);
    try {
      const reason = await unsupported(() => clients.dms.send(new DescribeTableStatisticsCommand({ ReplicationTaskArn: res.taskArn })));
      if (reason) {
        // Ferry reports the gap instead of inventing rows:
        const snap = await adapter.snapshot(input, res);
        expect(snap.tables).toBeNull();
        expect(snap.tableStatisticsError).toContain('DescribeTableStatistics');
        const v = await adapter.validate(input, res);
        expect(v.status).toBe('skipped');
        ctx.skip(`moto ${process.env.MOTO_VERSION ?? '5.2.5'} does not implement DescribeTableStatistics (${reason})`);
      }
      const snap = await adapter.snapshot(input, res);
      expect(Array.isArray(snap.tables)).toBe(true);
    } finally {
      await adapter.cleanup(input);
    }
  });

  it('premigration assessment folded into the precheck (StartReplicationTaskAssessmentRun)', async (ctx) => {
    const { adapter, spec, migrationId } = setup();
    const withAssessment = { ...spec, dms: { ...spec.dms, assessment: { serviceAccessRoleArn: 'arn:aws:iam::123456789012:role/ferry-assess', resultsBucket: 'ferry-assessments' } } };
    const input = { spec: withAssessment, migrationId };
    const res = await provision(adapter, input);
    try {
      const reason = await unsupported(() =>
        clients.dms.send(
          new StartReplicationTaskAssessmentRunCommand({
            ReplicationTaskArn: res.taskArn,
            ServiceAccessRoleArn: 'arn:aws:iam::123456789012:role/ferry-assess',
            ResultLocationBucket: 'ferry-assessments',
            AssessmentRunName: 'probe',
          }),
        ),
      );
      if (reason) {
        // Ferry reports the assessment as a failing precheck item with the API's answer, never a made-up pass.
        const items = await adapter.assess(input, res);
        expect(items).toEqual([expect.objectContaining({ id: 'dms-assessment', status: 'fail' })]);
        ctx.skip(`moto does not implement StartReplicationTaskAssessmentRun (${reason})`);
      }
      const items = await adapter.assess(input, res);
      expect(items.length).toBeGreaterThan(0);
    } finally {
      await adapter.cleanup(input);
    }
  });

  it.skip('serverless replication configs (CreateReplicationConfig): not implemented by Ferry, nor by moto 5.2.5 (DescribeReplicationConfigs answers HTTP 500)', () => {});
  it.skip('task failure states (failed, stopped on FATAL_ERROR, tables errored): moto never fails a task; covered by test/unit/dms-status.test.ts', () => {});
});
