// The aws-dms engine: the ScaleArc journey on the DMS API. Plain code, no Temporal imports.
//
// Every create is preceded by a describe of Ferry's deterministic identifier (names.ts), so a
// retried call finds what an earlier attempt made instead of duplicating it; every resource is
// tagged `ferry:migration-id`. Cleanup finds resources by identifier and by tag, and deletes in
// dependency order: task -> endpoints -> instance -> subnet group, waiting for each deletion.
import { createHash } from 'node:crypto';
import {
  CreateEndpointCommand,
  CreateReplicationInstanceCommand,
  CreateReplicationSubnetGroupCommand,
  CreateReplicationTaskCommand,
  DeleteEndpointCommand,
  DeleteReplicationInstanceCommand,
  DeleteReplicationSubnetGroupCommand,
  DeleteReplicationTaskCommand,
  DescribeConnectionsCommand,
  DescribeEndpointsCommand,
  DescribeReplicationInstancesCommand,
  DescribeReplicationSubnetGroupsCommand,
  DescribeReplicationTaskAssessmentRunsCommand,
  DescribeReplicationTaskIndividualAssessmentsCommand,
  DescribeReplicationTasksCommand,
  DescribeTableStatisticsCommand,
  ListTagsForResourceCommand,
  StartReplicationTaskAssessmentRunCommand,
  StartReplicationTaskCommand,
  StopReplicationTaskCommand,
  TestConnectionCommand,
  type Endpoint,
  type ReplicationInstance,
  type ReplicationSubnetGroup,
  type ReplicationTask,
  type TableStatistics,
} from '@aws-sdk/client-database-migration-service';
import { DescribeSecretCommand } from '@aws-sdk/client-secrets-manager';
import { dmsMigrationType, type DmsMigrationSpec } from '../../../workflows/dmsSpec';
import type {
  DmsCleanupReport,
  DmsResources,
  DmsStartResult,
  DmsTableProgress,
  DmsTaskSnapshot,
} from '../../../workflows/dmsTypes';
import type { PrecheckItem, TableValidation, ValidationReport } from '../../../workflows/types';
import type { DmsClients } from './client';
import { DmsRequestFailed, DmsResourceConflict, DmsTaskFailed, DmsUnavailable } from './errors';
import { NO_LAG_READER_REASON, type DmsLagReader } from './lag';
import { tableMappings } from './mappings';
import { dmsNames, dmsTags, MIGRATION_TAG, type DmsNames } from './names';
import { endpointInput, taskSettings } from './settings';
import { fullLoadDone, startDecision, tableProgress, taskFailure } from './status';

export interface DmsInput {
  migrationId: string;
  spec: DmsMigrationSpec;
}

export interface DmsAdapterOptions {
  /** Between polls of a resource that is changing state (default 15 s; tests shorten it). */
  pollMs?: number;
  /** Fires when the activity is cancelled: every wait stops. */
  signal?: AbortSignal;
  lagReader?: DmsLagReader;
}

export interface TaggedResource {
  kind: 'task' | 'endpoint' | 'instance' | 'subnet-group';
  id: string;
  arn?: string;
  status?: string;
}

interface AwsError {
  name?: string;
  message?: string;
  $fault?: 'client' | 'server';
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const TRANSIENT = /Throttl|TooManyRequests|RequestLimitExceeded|ServiceUnavailable|InternalFailure|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|socket hang up|TimeoutError/i;

function errorName(err: unknown): string {
  return (err as AwsError)?.name ?? '';
}

export function describeAwsError(err: unknown): string {
  const e = err as AwsError;
  const status = e?.$metadata?.httpStatusCode;
  // A body that is not a DMS answer (an emulator's HTML error page for an action it lacks).
  if (e?.name === 'SyntaxError' && status) return `HTTP ${status} without a DMS response (is the action implemented by this endpoint?)`;
  return `${e?.name ?? 'Error'}: ${(e?.message ?? String(err)).split('\n')[0]}`;
}

/** Map an SDK error to the Ferry error a person can act on (retryable only for transient trouble). */
function mapError(op: string, err: unknown): Error {
  if (err instanceof DmsTaskFailed || err instanceof DmsRequestFailed || err instanceof DmsResourceConflict || err instanceof DmsUnavailable) return err;
  const e = err as AwsError;
  const text = `${op}: ${describeAwsError(err)}`;
  const transient = TRANSIENT.test(`${e?.name} ${e?.message}`) || (e?.$fault === 'server' && e?.name !== 'SyntaxError');
  return transient ? new DmsUnavailable(text, { cause: err }) : new DmsRequestFailed(text, { cause: err });
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(typeof reason === 'string' ? reason : 'cancelled');
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(asError(signal.reason));
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(asError(signal?.reason));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class DmsAdapter {
  private readonly pollMs: number;

  constructor(
    private readonly clients: DmsClients,
    private readonly options: DmsAdapterOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 15_000;
  }

  // ------------------------------------------------------------------ plumbing
  private async aws<T>(op: string, call: () => Promise<T>): Promise<T> {
    this.options.signal?.throwIfAborted();
    try {
      return await call();
    } catch (err) {
      throw mapError(op, err);
    }
  }

  /** Like aws(), but a missing resource answers undefined (DMS reports an empty match as ResourceNotFoundFault). */
  private async maybe<T>(op: string, call: () => Promise<T>): Promise<T | undefined> {
    this.options.signal?.throwIfAborted();
    try {
      return await call();
    } catch (err) {
      if (errorName(err) === 'ResourceNotFoundFault') return undefined;
      throw mapError(op, err);
    }
  }

  private wait(): Promise<void> {
    return sleep(this.pollMs, this.options.signal);
  }

  private names(input: DmsInput): DmsNames {
    return dmsNames(input.migrationId);
  }

  private async findSubnetGroup(id: string): Promise<ReplicationSubnetGroup | undefined> {
    const out = await this.maybe('DescribeReplicationSubnetGroups', () =>
      this.clients.dms.send(new DescribeReplicationSubnetGroupsCommand({ Filters: [{ Name: 'replication-subnet-group-id', Values: [id] }] })),
    );
    return out?.ReplicationSubnetGroups?.find((g) => g.ReplicationSubnetGroupIdentifier === id);
  }

  private async findInstance(id: string): Promise<ReplicationInstance | undefined> {
    const out = await this.maybe('DescribeReplicationInstances', () =>
      this.clients.dms.send(new DescribeReplicationInstancesCommand({ Filters: [{ Name: 'replication-instance-id', Values: [id] }] })),
    );
    return out?.ReplicationInstances?.find((i) => i.ReplicationInstanceIdentifier === id);
  }

  private async findEndpoint(id: string): Promise<Endpoint | undefined> {
    const out = await this.maybe('DescribeEndpoints', () =>
      this.clients.dms.send(new DescribeEndpointsCommand({ Filters: [{ Name: 'endpoint-id', Values: [id] }] })),
    );
    return out?.Endpoints?.find((e) => e.EndpointIdentifier === id);
  }

  private async findTask(id: string): Promise<ReplicationTask | undefined> {
    const out = await this.maybe('DescribeReplicationTasks', () =>
      this.clients.dms.send(new DescribeReplicationTasksCommand({ Filters: [{ Name: 'replication-task-id', Values: [id] }] })),
    );
    return out?.ReplicationTasks?.find((t) => t.ReplicationTaskIdentifier === id);
  }

  private async taskByArn(arn: string): Promise<ReplicationTask> {
    const out = await this.maybe('DescribeReplicationTasks', () =>
      this.clients.dms.send(new DescribeReplicationTasksCommand({ Filters: [{ Name: 'replication-task-arn', Values: [arn] }] })),
    );
    const task = out?.ReplicationTasks?.find((t) => t.ReplicationTaskArn === arn);
    if (!task) throw new DmsTaskFailed(`DMS task ${arn} no longer exists (deleted outside Ferry?)`);
    return task;
  }

  private async tagsOf(arns: string[]): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    for (let i = 0; i < arns.length; i += 20) {
      const batch = arns.slice(i, i + 20);
      const res = await this.aws('ListTagsForResource', () => this.clients.dms.send(new ListTagsForResourceCommand({ ResourceArnList: batch })));
      for (const tag of res.TagList ?? []) {
        const arn = tag.ResourceArn;
        if (!arn || !tag.Key) continue;
        out.set(arn, { ...(out.get(arn) ?? {}), [tag.Key]: tag.Value ?? '' });
      }
    }
    return out;
  }

  /** A resource under Ferry's identifier but tagged for another migration is not ours to reuse or delete. */
  private async assertOurs(input: DmsInput, kind: string, id: string, arn: string | undefined): Promise<void> {
    if (!arn) return;
    const owner = (await this.tagsOf([arn])).get(arn)?.[MIGRATION_TAG];
    if (owner !== undefined && owner !== input.migrationId) {
      throw new DmsResourceConflict(`DMS ${kind} ${id} belongs to migration ${owner} (tag ${MIGRATION_TAG}), not ${input.migrationId}`);
    }
  }

  // ------------------------------------------------------------------ precheck (before provisioning)
  /** Read-only: secrets exist (metadata only, never their value), lag source, leftovers of other migrations. */
  async precheck(input: DmsInput, hasLagReader: boolean): Promise<PrecheckItem[]> {
    const { spec } = input;
    const items: PrecheckItem[] = [];
    for (const side of ['source', 'target'] as const) {
      const secretId = spec.dms[side].secretId;
      try {
        const d = await this.clients.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
        items.push({
          id: `dms-secret:${side}`,
          status: d.DeletedDate ? 'fail' : 'pass',
          message: d.DeletedDate
            ? `Secrets Manager secret ${d.Name ?? secretId} is scheduled for deletion`
            : `Secrets Manager secret ${d.Name ?? secretId} exists; DMS reads it through ${spec.dms.secretsManagerAccessRoleArn}`,
          remedy: d.DeletedDate ? 'restore the secret (RestoreSecret) or name another one' : undefined,
        });
      } catch (err) {
        const name = errorName(err);
        if (TRANSIENT.test(`${name} ${(err as AwsError).message}`)) throw mapError('DescribeSecret', err);
        items.push({
          id: `dms-secret:${side}`,
          status: 'fail',
          message: `${side} secret ${secretId}: ${describeAwsError(err)}`,
          remedy:
            name === 'ResourceNotFoundException'
              ? `create the secret (JSON with username, password, host, port) or fix dms.${side}.secretId`
              : 'let the worker describe the secret (secretsmanager:DescribeSecret) and check the secret id',
        });
      }
    }
    if (spec.dms.replicationSubnetGroupId) {
      const g = await this.findSubnetGroup(spec.dms.replicationSubnetGroupId);
      items.push(
        g
          ? { id: 'dms-subnet-group', status: 'pass', message: `replication subnet group ${spec.dms.replicationSubnetGroupId} exists (VPC ${g.VpcId ?? '?'})` }
          : {
              id: 'dms-subnet-group',
              status: 'fail',
              message: `replication subnet group ${spec.dms.replicationSubnetGroupId} does not exist`,
              remedy: 'create it, or give dms.subnetIds so Ferry creates one',
            },
      );
    }
    if (spec.mode === 'online') {
      if (spec.dms.lagSource === 'none') {
        items.push({
          id: 'dms-lag-source',
          status: 'warning',
          message: 'dms.lagSource is none: the cutover is gated by approval and window only, and the task stops without waiting for CDC to drain',
          remedy: 'approve the cutover only once writes to the source have stopped and DMS has applied them',
        });
      } else if (!hasLagReader) {
        items.push({
          id: 'dms-lag-source',
          status: 'fail',
          message: `dms.lagSource is cloudwatch, but ${NO_LAG_READER_REASON}`,
          remedy: 'run the worker with a CloudWatch lag reader, or set dms.lagSource: none',
        });
      } else {
        items.push({ id: 'dms-lag-source', status: 'pass', message: `CDC lag from ${this.options.lagReader?.description ?? 'the lag reader'}` });
      }
    }
    // Leftovers under Ferry's identifiers: ours are reused, another migration's are a conflict.
    const names = this.names(input);
    const found: { kind: string; id: string; arn?: string }[] = [];
    const ri = await this.findInstance(names.instance);
    if (ri) found.push({ kind: 'replication instance', id: names.instance, arn: ri.ReplicationInstanceArn });
    for (const id of [names.sourceEndpoint, names.targetEndpoint]) {
      const ep = await this.findEndpoint(id);
      if (ep) found.push({ kind: 'endpoint', id, arn: ep.EndpointArn });
    }
    const task = await this.findTask(names.task);
    if (task) found.push({ kind: 'replication task', id: names.task, arn: task.ReplicationTaskArn });
    const tags = await this.tagsOf(found.flatMap((f) => (f.arn ? [f.arn] : [])));
    for (const f of found) {
      const owner = f.arn ? tags.get(f.arn)?.[MIGRATION_TAG] : undefined;
      if (owner !== undefined && owner !== input.migrationId) {
        items.push({
          id: `dms-conflict:${f.id}`,
          status: 'fail',
          message: `DMS ${f.kind} ${f.id} exists and belongs to migration ${owner}`,
          remedy: 'delete it or run this migration under another name',
        });
      }
    }
    const ours = found.filter((f) => !items.some((i) => i.id === `dms-conflict:${f.id}`));
    items.push({
      id: 'dms-resources',
      status: 'pass',
      message: ours.length
        ? `reusing ${ours.map((f) => `${f.kind} ${f.id}`).join(', ')} from an earlier attempt`
        : `will create ${spec.dms.replicationSubnetGroupId ? '' : `subnet group ${names.subnetGroup}, `}instance ${names.instance} (${spec.dms.replicationInstanceClass}), endpoints and task ${names.task} (${dmsMigrationType(spec)})`,
    });
    items.push({
      id: 'dms-table-mappings',
      status: 'pass',
      message: `${tableMappings(spec).rules.length} table-mapping rule(s) from tables.include/exclude and rename`,
    });
    return items;
  }

  // ------------------------------------------------------------------ provisioning
  async ensureNetwork(input: DmsInput): Promise<{ subnetGroupId?: string; instanceArn: string }> {
    const { spec, migrationId } = input;
    const names = this.names(input);
    let subnetGroup = spec.dms.replicationSubnetGroupId;
    let managed: string | undefined;
    if (!subnetGroup) {
      subnetGroup = managed = names.subnetGroup;
      if (!(await this.findSubnetGroup(names.subnetGroup))) {
        try {
          await this.clients.dms.send(
            new CreateReplicationSubnetGroupCommand({
              ReplicationSubnetGroupIdentifier: names.subnetGroup,
              ReplicationSubnetGroupDescription: `Ferry migration ${migrationId}`,
              SubnetIds: spec.dms.subnetIds,
              Tags: dmsTags(migrationId, 'subnet-group'),
            }),
          );
        } catch (err) {
          if (errorName(err) !== 'ResourceAlreadyExistsFault') throw mapError('CreateReplicationSubnetGroup', err);
        }
      }
    }
    let instance = await this.findInstance(names.instance);
    if (instance) {
      await this.assertOurs(input, 'replication instance', names.instance, instance.ReplicationInstanceArn);
    } else {
      try {
        instance = (
          await this.clients.dms.send(
            new CreateReplicationInstanceCommand({
              ReplicationInstanceIdentifier: names.instance,
              ReplicationInstanceClass: spec.dms.replicationInstanceClass,
              AllocatedStorage: spec.dms.allocatedStorageGb,
              EngineVersion: spec.dms.engineVersion,
              MultiAZ: spec.dms.multiAz,
              PubliclyAccessible: spec.dms.publiclyAccessible,
              ReplicationSubnetGroupIdentifier: subnetGroup,
              VpcSecurityGroupIds: spec.dms.vpcSecurityGroupIds.length ? spec.dms.vpcSecurityGroupIds : undefined,
              Tags: dmsTags(migrationId, 'instance'),
            }),
          )
        ).ReplicationInstance;
      } catch (err) {
        if (errorName(err) !== 'ResourceAlreadyExistsFault') throw mapError('CreateReplicationInstance', err);
        instance = await this.findInstance(names.instance);
      }
    }
    // A new instance takes minutes on AWS: wait for `available`.
    for (;;) {
      const status = instance?.ReplicationInstanceStatus ?? 'unknown';
      if (status === 'available') break;
      if (['failed', 'incompatible-network', 'inaccessible-encryption-credentials', 'storage-full', 'deleting', 'deleted'].includes(status)) {
        throw new DmsRequestFailed(`DMS replication instance ${names.instance} is ${status}`);
      }
      await this.wait();
      instance = await this.findInstance(names.instance);
      if (!instance) throw new DmsRequestFailed(`DMS replication instance ${names.instance} disappeared while Ferry waited for it`);
    }
    return { subnetGroupId: managed, instanceArn: instance!.ReplicationInstanceArn! };
  }

  async ensureEndpoints(input: DmsInput): Promise<{ sourceEndpointArn: string; targetEndpointArn: string }> {
    const names = this.names(input);
    const arns: Record<'source' | 'target', string> = { source: '', target: '' };
    for (const side of ['source', 'target'] as const) {
      const id = side === 'source' ? names.sourceEndpoint : names.targetEndpoint;
      let ep = await this.findEndpoint(id);
      if (ep) {
        await this.assertOurs(input, 'endpoint', id, ep.EndpointArn);
      } else {
        try {
          ep = (await this.clients.dms.send(new CreateEndpointCommand(endpointInput(input.spec, side, id, dmsTags(input.migrationId, `${side}-endpoint`))))).Endpoint;
        } catch (err) {
          if (errorName(err) !== 'ResourceAlreadyExistsFault') throw mapError('CreateEndpoint', err);
          ep = await this.findEndpoint(id);
        }
      }
      if (!ep?.EndpointArn) throw new DmsRequestFailed(`DMS endpoint ${id} has no ARN after creation`);
      arns[side] = ep.EndpointArn;
    }
    return { sourceEndpointArn: arns.source, targetEndpointArn: arns.target };
  }

  async ensureTask(input: DmsInput, res: Omit<DmsResources, 'taskArn' | 'taskId'>): Promise<{ taskArn: string; taskId: string }> {
    const names = this.names(input);
    let task = await this.findTask(names.task);
    if (task) {
      await this.assertOurs(input, 'replication task', names.task, task.ReplicationTaskArn);
      if (task.SourceEndpointArn !== res.sourceEndpointArn || task.TargetEndpointArn !== res.targetEndpointArn) {
        throw new DmsResourceConflict(
          `DMS task ${names.task} exists but replicates other endpoints (${task.SourceEndpointArn} -> ${task.TargetEndpointArn}); abort the migration to delete it, then start again`,
        );
      }
    } else {
      try {
        task = (
          await this.clients.dms.send(
            new CreateReplicationTaskCommand({
              ReplicationTaskIdentifier: names.task,
              SourceEndpointArn: res.sourceEndpointArn,
              TargetEndpointArn: res.targetEndpointArn,
              ReplicationInstanceArn: res.instanceArn,
              MigrationType: dmsMigrationType(input.spec),
              TableMappings: JSON.stringify(tableMappings(input.spec)),
              ReplicationTaskSettings: taskSettings(input.spec),
              Tags: dmsTags(input.migrationId, 'task'),
            }),
          )
        ).ReplicationTask;
      } catch (err) {
        if (errorName(err) !== 'ResourceAlreadyExistsFault') throw mapError('CreateReplicationTask', err);
        task = await this.findTask(names.task);
      }
    }
    if (!task?.ReplicationTaskArn) throw new DmsRequestFailed(`DMS task ${names.task} has no ARN after creation`);
    return { taskArn: task.ReplicationTaskArn, taskId: names.task };
  }

  // ------------------------------------------------------------------ readiness (after provisioning)
  /** TestConnection from the replication instance to each endpoint; DMS's failure text on failure. */
  async testConnections(res: DmsResources): Promise<PrecheckItem[]> {
    const items: PrecheckItem[] = [];
    for (const [side, arn] of [['source', res.sourceEndpointArn], ['target', res.targetEndpointArn]] as const) {
      try {
        await this.clients.dms.send(new TestConnectionCommand({ ReplicationInstanceArn: res.instanceArn, EndpointArn: arn }));
      } catch (err) {
        // A test already running for this pair answers InvalidResourceStateFault: wait for it instead.
        if (errorName(err) !== 'InvalidResourceStateFault') throw mapError('TestConnection', err);
      }
      for (;;) {
        const out = await this.aws('DescribeConnections', () =>
          this.clients.dms.send(new DescribeConnectionsCommand({ Filters: [{ Name: 'endpoint-arn', Values: [arn] }] })),
        );
        const conn = out.Connections?.find((c) => c.EndpointArn === arn && c.ReplicationInstanceArn === res.instanceArn);
        const status = conn?.Status ?? 'testing';
        if (status === 'successful') {
          items.push({ id: `dms-connection:${side}`, status: 'pass', message: `DMS connected to the ${side} endpoint (${conn?.EndpointIdentifier})` });
          break;
        }
        if (status === 'failed' || status === 'deleting') {
          items.push({
            id: `dms-connection:${side}`,
            status: 'fail',
            message: `DMS could not connect to the ${side} endpoint (${conn?.EndpointIdentifier}): ${conn?.LastFailureMessage || 'no failure message'}`,
            remedy: 'check the secret (host, port, user, password), security groups and routes from the replication instance',
          });
          break;
        }
        await this.wait();
      }
    }
    return items;
  }

  /** Premigration assessment (StartReplicationTaskAssessmentRun) folded into precheck items. */
  async assess(input: DmsInput, res: DmsResources): Promise<PrecheckItem[]> {
    const a = input.spec.dms.assessment;
    if (!a) return [];
    let runArn: string | undefined;
    try {
      const out = await this.clients.dms.send(
        new StartReplicationTaskAssessmentRunCommand({
          ReplicationTaskArn: res.taskArn,
          ServiceAccessRoleArn: a.serviceAccessRoleArn,
          ResultLocationBucket: a.resultsBucket,
          ResultLocationFolder: a.resultsFolder,
          AssessmentRunName: `${res.taskId}-${Date.now().toString(36)}`,
          Tags: dmsTags(input.migrationId, 'assessment-run'),
        }),
      );
      runArn = out.ReplicationTaskAssessmentRun?.ReplicationTaskAssessmentRunArn;
    } catch (err) {
      return [
        {
          id: 'dms-assessment',
          status: 'fail',
          message: `the premigration assessment could not start: ${describeAwsError(err)}`,
          remedy: 'check dms.assessment (role, bucket) or remove it to migrate without an assessment',
        },
      ];
    }
    if (!runArn) return [{ id: 'dms-assessment', status: 'fail', message: 'the premigration assessment started without a run ARN' }];
    const terminal = ['passed', 'failed', 'warning', 'error-provisioning', 'error-executing', 'invalid state', 'cancelled'];
    let status = 'starting';
    let lastFailure: string | undefined;
    for (;;) {
      const out = await this.aws('DescribeReplicationTaskAssessmentRuns', () =>
        this.clients.dms.send(new DescribeReplicationTaskAssessmentRunsCommand({ Filters: [{ Name: 'replication-task-assessment-run-arn', Values: [runArn] }] })),
      );
      const run = out.ReplicationTaskAssessmentRuns?.[0];
      status = run?.Status ?? 'unknown';
      lastFailure = run?.LastFailureMessage;
      if (terminal.includes(status)) break;
      await this.wait();
    }
    const out = await this.aws('DescribeReplicationTaskIndividualAssessments', () =>
      this.clients.dms.send(new DescribeReplicationTaskIndividualAssessmentsCommand({ Filters: [{ Name: 'replication-task-assessment-run-arn', Values: [runArn] }] })),
    );
    const items: PrecheckItem[] = (out.ReplicationTaskIndividualAssessments ?? []).map((x) => {
      const s = (x.Status ?? 'unknown').toLowerCase();
      return {
        id: `dms-assessment:${x.IndividualAssessmentName}`,
        status: s === 'passed' ? 'pass' : s === 'warning' || s === 'skipped' || s === 'cancelled' ? 'warning' : 'fail',
        message: `DMS premigration assessment ${x.IndividualAssessmentName}: ${x.Status}`,
        remedy: s === 'passed' ? undefined : `see the results in s3://${a.resultsBucket}/${a.resultsFolder ?? ''}`,
      };
    });
    if (status.startsWith('error') || status === 'invalid state') {
      items.push({ id: 'dms-assessment', status: 'fail', message: `the premigration assessment ended ${status}: ${lastFailure ?? 'no failure message'}` });
    }
    return items;
  }

  // ------------------------------------------------------------------ running the task
  /** Start or restart the task as DMS allows (see status.ts startDecision). Idempotent. */
  async startTask(res: DmsResources, phase: 'full_load' | 'cdc'): Promise<DmsStartResult> {
    for (;;) {
      const task = await this.taskByArn(res.taskArn);
      const d = startDecision(task, phase);
      if (d.kind === 'already-running' || d.kind === 'already-finished') return { action: d.kind, status: task.Status ?? 'unknown' };
      if (d.kind === 'error') throw new DmsTaskFailed(d.message);
      if (d.kind === 'start') {
        try {
          const out = await this.clients.dms.send(new StartReplicationTaskCommand({ ReplicationTaskArn: res.taskArn, StartReplicationTaskType: d.type }));
          return { action: d.type, status: out.ReplicationTask?.Status ?? 'starting' };
        } catch (err) {
          // Not ready yet (still creating/modifying): DMS says so; wait and look again.
          if (errorName(err) !== 'InvalidResourceStateFault') throw mapError('StartReplicationTask', err);
        }
      }
      await this.wait();
    }
  }

  private async tableStatistics(taskArn: string): Promise<{ tables: DmsTableProgress[] | null; error?: string }> {
    const all: TableStatistics[] = [];
    let marker: string | undefined;
    try {
      do {
        this.options.signal?.throwIfAborted();
        const out = await this.clients.dms.send(new DescribeTableStatisticsCommand({ ReplicationTaskArn: taskArn, Marker: marker, MaxRecords: 500 }));
        all.push(...(out.TableStatistics ?? []));
        marker = out.Marker;
      } while (marker);
    } catch (err) {
      if (this.options.signal?.aborted) throw err;
      return { tables: null, error: `DescribeTableStatistics: ${describeAwsError(err)}` };
    }
    return { tables: tableProgress(all) };
  }

  /**
   * One look at the task. With `knownTablesHash` (the previous snapshot's), an unchanged table list
   * is left out (`tables` undefined), so polling does not copy every table into history each time.
   */
  async snapshot(input: DmsInput, res: DmsResources, knownTablesHash?: string): Promise<DmsTaskSnapshot> {
    const task = await this.taskByArn(res.taskArn);
    const { tables, error } = await this.tableStatistics(res.taskArn);
    const tablesHash = tables ? createHash('sha1').update(JSON.stringify(tables)).digest('hex') : undefined;
    const s = task.ReplicationTaskStats ?? {};
    let lag: DmsTaskSnapshot['lag'] = null;
    let lagUnavailable: string | undefined;
    if (task.MigrationType !== 'full-load-and-cdc' && task.MigrationType !== 'cdc') lagUnavailable = 'no CDC in a full-load task';
    else if (input.spec.dms.lagSource === 'none') lagUnavailable = 'dms.lagSource is none';
    else if (!this.options.lagReader) lagUnavailable = NO_LAG_READER_REASON;
    else {
      try {
        const instanceId = res.instanceArn.split(':').pop() ?? '';
        const r = await this.options.lagReader.read({ region: input.spec.dms.region, instanceId, taskId: res.taskId, taskArn: res.taskArn });
        if (r) lag = { sourceSeconds: r.sourceSeconds, targetSeconds: r.targetSeconds, at: r.at.toISOString() };
        else lagUnavailable = `no datapoint yet from ${this.options.lagReader.description}`;
      } catch (err) {
        lagUnavailable = `${this.options.lagReader.description}: ${describeAwsError(err)}`;
      }
    }
    return {
      taskId: task.ReplicationTaskIdentifier ?? res.taskId,
      status: task.Status ?? 'unknown',
      migrationType: task.MigrationType ?? 'unknown',
      stopReason: task.StopReason,
      lastFailureMessage: task.LastFailureMessage || undefined,
      fullLoadPercent: s.FullLoadProgressPercent ?? 0,
      tablesLoaded: s.TablesLoaded ?? 0,
      tablesLoading: s.TablesLoading ?? 0,
      tablesQueued: s.TablesQueued ?? 0,
      tablesErrored: s.TablesErrored ?? 0,
      fullLoadDone: fullLoadDone(task, tables),
      failure: taskFailure(task, tables),
      tables: tablesHash !== undefined && tablesHash === knownTablesHash ? undefined : tables,
      tablesHash,
      tableStatisticsError: error,
      lag,
      lagUnavailable,
      observedAt: new Date().toISOString(),
    };
  }

  /** Stop the task (the cutover's replication freeze) and wait until DMS reports it stopped. Idempotent. */
  async stopTask(input: DmsInput, res: DmsResources): Promise<DmsTaskSnapshot> {
    let task = await this.taskByArn(res.taskArn);
    if (['running', 'starting', 'resuming'].includes(task.Status ?? '')) {
      try {
        await this.clients.dms.send(new StopReplicationTaskCommand({ ReplicationTaskArn: res.taskArn }));
      } catch (err) {
        if (errorName(err) !== 'InvalidResourceStateFault') throw mapError('StopReplicationTask', err);
      }
    }
    for (;;) {
      task = await this.taskByArn(res.taskArn);
      if (!['running', 'starting', 'resuming', 'stopping'].includes(task.Status ?? '')) break;
      await this.wait();
    }
    return this.snapshot(input, res);
  }

  /** DMS data validation (ValidationSettings.EnableValidation) as Ferry's report, from DescribeTableStatistics. */
  async validate(input: DmsInput, res: DmsResources): Promise<ValidationReport> {
    const level = input.spec.validation.level;
    if (level === 'none') return { level, status: 'skipped', tables: [] };
    const { tables, error } = await this.tableStatistics(res.taskArn);
    if (!tables) {
      return {
        level,
        status: 'skipped',
        tables: [{ source: '*', target: '*', status: 'skipped', sourceRows: 0, targetRows: 0, reason: `no DMS validation results: ${error}` }],
      };
    }
    const rows: TableValidation[] = tables.map((t) => {
      const state = t.validationState ?? 'unknown';
      const failed = (t.validationFailed ?? 0) > 0 || /mismatch|failed|error/i.test(state);
      const ok = /^validated$/i.test(state);
      const moved = t.fullLoadRows + t.inserts - t.deletes;
      return {
        source: `${t.schema}.${t.table}`,
        target: `${t.schema}.${t.table}`,
        status: failed ? 'mismatch' : ok ? 'match' : 'skipped',
        sourceRows: moved,
        targetRows: moved - (t.validationFailed ?? 0),
        reason: `DMS validation: ${state}${t.validationFailed ? `, ${t.validationFailed} failed record(s)` : ''}${t.validationPending ? `, ${t.validationPending} pending` : ''}${t.validationSuspended ? `, ${t.validationSuspended} suspended` : ''}`,
      };
    });
    const status = rows.some((r) => r.status === 'mismatch') ? 'mismatch' : rows.length > 0 && rows.every((r) => r.status === 'match') ? 'match' : 'skipped';
    return { level, status, tables: rows };
  }

  // ------------------------------------------------------------------ inventory and cleanup
  private async all<T>(op: string, page: (marker?: string) => Promise<{ items: T[]; marker?: string } | undefined>): Promise<T[]> {
    const out: T[] = [];
    let marker: string | undefined;
    do {
      const res = await this.aws(op, () => page(marker));
      if (!res) break;
      out.push(...res.items);
      marker = res.marker;
    } while (marker);
    return out;
  }

  /**
   * Every DMS resource of this migration: under Ferry's identifiers or tagged with its id. (Subnet
   * groups have no ARN in DescribeReplicationSubnetGroups: they are found by identifier.)
   */
  async resources(input: DmsInput): Promise<TaggedResource[]> {
    const names = this.names(input);
    const dms = this.clients.dms;
    const maybeNone = async <T>(p: Promise<T>): Promise<T | undefined> =>
      p.catch((err) => {
        if (errorName(err) === 'ResourceNotFoundFault') return undefined;
        throw err;
      });
    const tasks = await this.all('DescribeReplicationTasks', async (m) => {
      const r = await maybeNone(dms.send(new DescribeReplicationTasksCommand({ Marker: m, WithoutSettings: true })));
      return r && { items: r.ReplicationTasks ?? [], marker: r.Marker };
    });
    const endpoints = await this.all('DescribeEndpoints', async (m) => {
      const r = await maybeNone(dms.send(new DescribeEndpointsCommand({ Marker: m })));
      return r && { items: r.Endpoints ?? [], marker: r.Marker };
    });
    const instances = await this.all('DescribeReplicationInstances', async (m) => {
      const r = await maybeNone(dms.send(new DescribeReplicationInstancesCommand({ Marker: m })));
      return r && { items: r.ReplicationInstances ?? [], marker: r.Marker };
    });
    const candidates: TaggedResource[] = [
      ...tasks.map((t) => ({ kind: 'task' as const, id: t.ReplicationTaskIdentifier ?? '', arn: t.ReplicationTaskArn, status: t.Status })),
      ...endpoints.map((e) => ({ kind: 'endpoint' as const, id: e.EndpointIdentifier ?? '', arn: e.EndpointArn, status: e.Status })),
      ...instances.map((i) => ({ kind: 'instance' as const, id: i.ReplicationInstanceIdentifier ?? '', arn: i.ReplicationInstanceArn, status: i.ReplicationInstanceStatus })),
    ];
    const tags = await this.tagsOf(candidates.flatMap((c) => (c.arn ? [c.arn] : [])));
    const ourIds = new Set([names.task, names.sourceEndpoint, names.targetEndpoint, names.instance]);
    const mine = candidates.filter((c) => {
      const owner = c.arn ? tags.get(c.arn)?.[MIGRATION_TAG] : undefined;
      return owner === input.migrationId || (owner === undefined && ourIds.has(c.id));
    });
    if (!input.spec.dms.replicationSubnetGroupId) {
      const g = await this.findSubnetGroup(names.subnetGroup);
      if (g) mine.push({ kind: 'subnet-group', id: names.subnetGroup, status: g.SubnetGroupStatus });
    }
    return mine;
  }

  /** Delete everything this migration created, in dependency order, waiting for each deletion. Idempotent. */
  async cleanup(input: DmsInput): Promise<DmsCleanupReport> {
    const report: DmsCleanupReport = { deleted: [] };
    const found = await this.resources(input);
    const dms = this.clients.dms;

    for (const t of found.filter((r) => r.kind === 'task')) {
      // A running task cannot be deleted: stop it first.
      let task = await this.findTask(t.id);
      if (task && ['running', 'starting', 'resuming'].includes(task.Status ?? '')) {
        await dms.send(new StopReplicationTaskCommand({ ReplicationTaskArn: t.arn })).catch((err) => {
          if (errorName(err) !== 'InvalidResourceStateFault' && errorName(err) !== 'ResourceNotFoundFault') throw mapError('StopReplicationTask', err);
        });
      }
      await this.deleteAndWait(
        () => dms.send(new DeleteReplicationTaskCommand({ ReplicationTaskArn: t.arn })),
        async () => Boolean((task = await this.findTask(t.id))),
        'DeleteReplicationTask',
      );
      report.deleted.push({ kind: 'task', id: t.id });
    }
    for (const e of found.filter((r) => r.kind === 'endpoint')) {
      await this.deleteAndWait(
        () => dms.send(new DeleteEndpointCommand({ EndpointArn: e.arn })),
        async () => Boolean(await this.findEndpoint(e.id)),
        'DeleteEndpoint',
      );
      report.deleted.push({ kind: 'endpoint', id: e.id });
    }
    for (const i of found.filter((r) => r.kind === 'instance')) {
      await this.deleteAndWait(
        () => dms.send(new DeleteReplicationInstanceCommand({ ReplicationInstanceArn: i.arn })),
        async () => Boolean(await this.findInstance(i.id)),
        'DeleteReplicationInstance',
      );
      report.deleted.push({ kind: 'instance', id: i.id });
    }
    for (const g of found.filter((r) => r.kind === 'subnet-group')) {
      await this.deleteAndWait(
        () => dms.send(new DeleteReplicationSubnetGroupCommand({ ReplicationSubnetGroupIdentifier: g.id })),
        async () => Boolean(await this.findSubnetGroup(g.id)),
        'DeleteReplicationSubnetGroup',
      );
      report.deleted.push({ kind: 'subnet-group', id: g.id });
    }
    return report;
  }

  /**
   * Delete, then wait until the resource is gone. A resource DMS cannot delete yet (a task still
   * stopping, an instance still referenced) answers InvalidResourceStateFault: wait and try again.
   */
  private async deleteAndWait(del: () => Promise<unknown>, exists: () => Promise<boolean>, op: string): Promise<void> {
    for (;;) {
      this.options.signal?.throwIfAborted();
      try {
        await del();
      } catch (err) {
        const name = errorName(err);
        if (name !== 'ResourceNotFoundFault' && name !== 'InvalidResourceStateFault') throw mapError(op, err);
      }
      if (!(await exists())) return;
      await this.wait();
    }
  }
}

export function failIfTaskFailed(snapshot: DmsTaskSnapshot): void {
  if (snapshot.failure) throw new DmsTaskFailed(snapshot.failure);
}
