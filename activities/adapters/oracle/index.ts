// Oracle adapter: PG -> Oracle (DTS style) and Oracle -> Oracle (El Carro: Data Pump, RMAN,
// Data Guard). Plain code, no Temporal imports. docs/oracle.md says what has and has not run
// against a real Oracle.
export * from './engine';
export { connectOracle, connectString, oracleEndpointFrom, classifyOracleError, type OracleEndpoint } from './connection';
export { quoteOracleIdent, qualifyOracle, oracleNameFor, quoteOracleLiteral, identifierLimitFor, InvalidOracleIdentifier } from './identifiers';
export { mapColumn, mapColumns, pgTypeName, type PgType, type PgColumn, type ColumnMapping, type OracleTarget } from './types';
export { insertSql, mergeSql, deleteSql, planBatches, executeBatched, type TargetTable, type OracleWriter } from './apply';
export { planChanges, type RowChange } from './changes';
export { dataPumpFlow, exportPlsql, importPlsql, type DataPumpConfig } from './datapump';
export { rmanMigrationFlow, rmanBackupScript, rmanArchiveLogScript, rmanRestoreScript, rmanRecoverScript, type RmanMigrationConfig } from './rman';
export { dataGuardFlow, switchoverScript, brokerSetupScript, duplicateForStandbyScript, parseLag, type DataGuardConfig } from './dataguard';
export { runPhase, renderPhase } from './flow';
export { oracledbSqlRunner, hostRunner, kubectlExecRunner, OracleStepFailed, type SqlRunner, type CommandRunner } from './runner';
