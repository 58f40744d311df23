// CDC lag. The DMS API does not return it: DMS publishes CDCLatencySource and CDCLatencyTarget as
// CloudWatch metrics (namespace AWS/DMS, dimensions ReplicationInstanceIdentifier and
// ReplicationTaskIdentifier, where the task identifier is the last part of the task ARN). A
// worker that reads CloudWatch plugs a DmsLagReader in; without one Ferry reports lag as unknown.
export interface DmsLagQuery {
  region?: string;
  instanceId: string;
  taskId: string;
  taskArn: string;
}

export interface DmsLagReading {
  sourceSeconds: number;
  targetSeconds: number;
  at: Date;
}

export interface DmsLagReader {
  /** Shown in progress and reports, e.g. `CloudWatch AWS/DMS CDCLatencyTarget`. */
  readonly description: string;
  /** The latest reading, or undefined when there is none yet (no datapoint in the period). */
  read(query: DmsLagQuery): Promise<DmsLagReading | undefined>;
}

export const NO_LAG_READER_REASON =
  'CDC latency is published only as the CloudWatch metrics CDCLatencySource/CDCLatencyTarget (namespace AWS/DMS); this worker has no CloudWatch lag reader';
