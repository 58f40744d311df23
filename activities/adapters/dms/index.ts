// The aws-dms engine (plain code, no Temporal imports): see adapter.ts and docs/dms.md.
export { DmsAdapter, describeAwsError, type DmsAdapterOptions, type DmsInput, type TaggedResource } from './adapter';
export { createDmsClients, dmsClientConfigFromEnv, type DmsClientConfig, type DmsClients } from './client';
export { DmsRequestFailed, DmsResourceConflict, DmsTaskFailed, DmsUnavailable } from './errors';
export { NO_LAG_READER_REASON, type DmsLagQuery, type DmsLagReader, type DmsLagReading } from './lag';
export { globToDms, tableMappings, type DmsRule } from './mappings';
export { dmsNames, dmsTags, MIGRATION_TAG, RESOURCE_TAG, type DmsNames } from './names';
export { endpointInput, taskSettings } from './settings';
export { fullLoadDone, startDecision, tableProgress, taskFailure } from './status';
