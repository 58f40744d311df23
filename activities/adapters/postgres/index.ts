// The native PostgreSQL engine: PG -> PG with binary COPY, pg_dump/pg_restore for the schema.
import type { MigrationEngine } from '../engine';
import { cleanup } from './cleanup';
import { copyChunk, planFullLoad } from './copy';
import { fenceSource, unfenceSource } from './fence';
import { precheck } from './precheck';
import { currentLsn, prepareCapture, stopCapture, streamChanges, syncSequences } from './replication';
import { applyRenames } from './renames';
import { finishLoad, provision } from './schema';
import { currentSnapshot, holdSnapshot, restartSlotLoad } from './snapshot';
import { recheckValidation, validate, waitForAppliedLsn } from './validate';

export function createPostgresEngine(): MigrationEngine {
  return {
    precheck,
    provision,
    planFullLoad,
    holdSnapshot,
    currentSnapshot,
    restartLoad: restartSlotLoad,
    copyChunk,
    finishLoad,
    fenceSource,
    unfenceSource,
    applyRenames,
    validate,
    recheckValidation,
    waitForAppliedLsn,
    cleanup,
    prepareCapture,
    streamChanges,
    currentLsn,
    syncSequences,
    stopCapture,
  };
}

export { quoteIdent, qualify } from './sql';
