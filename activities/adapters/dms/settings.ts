// CreateEndpoint and ReplicationTaskSettings from the spec. Credentials are Secrets Manager
// references on the engine's settings block (SecretsManagerSecretId + SecretsManagerAccessRoleArn):
// no user name, password or host ever passes through Ferry.
import type { CreateEndpointCommandInput } from '@aws-sdk/client-database-migration-service';
import type { DmsEndpointSettings, DmsMigrationSpec } from '../../../workflows/dmsSpec';

type SettingsKey =
  | 'PostgreSQLSettings'
  | 'MySQLSettings'
  | 'OracleSettings'
  | 'MicrosoftSQLServerSettings'
  | 'IBMDb2Settings'
  | 'SybaseSettings';

export const SETTINGS_KEY: Record<DmsEndpointSettings['engineName'], SettingsKey> = {
  postgres: 'PostgreSQLSettings',
  'aurora-postgresql': 'PostgreSQLSettings',
  mysql: 'MySQLSettings',
  aurora: 'MySQLSettings',
  mariadb: 'MySQLSettings',
  oracle: 'OracleSettings',
  sqlserver: 'MicrosoftSQLServerSettings',
  db2: 'IBMDb2Settings',
  sybase: 'SybaseSettings',
};

export function endpointInput(
  spec: DmsMigrationSpec,
  side: 'source' | 'target',
  identifier: string,
  tags: { Key: string; Value: string }[],
): CreateEndpointCommandInput {
  const ep = spec.dms[side];
  const databaseName = ep.databaseName ?? spec[side].database;
  const settings: Record<string, unknown> = {
    SecretsManagerSecretId: ep.secretId,
    SecretsManagerAccessRoleArn: spec.dms.secretsManagerAccessRoleArn,
  };
  // MySQL-family endpoints take the database on the endpoint, the others in their settings block.
  if (SETTINGS_KEY[ep.engineName] !== 'MySQLSettings') settings.DatabaseName = databaseName;
  return {
    EndpointIdentifier: identifier,
    EndpointType: side,
    EngineName: ep.engineName,
    DatabaseName: databaseName,
    [SETTINGS_KEY[ep.engineName]]: settings,
    Tags: tags,
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isRecord(b) && isRecord(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** ReplicationTaskSettings JSON: prep mode, validation per spec level, logging, then the spec's overrides. */
export function taskSettings(spec: DmsMigrationSpec): string {
  const base: Record<string, unknown> = {
    FullLoadSettings: { TargetTablePrepMode: spec.dms.targetTablePrepMode },
    // DMS validation compares rows source vs target (stronger than counts); on unless the spec says none.
    ValidationSettings: { EnableValidation: spec.validation.level !== 'none' },
    Logging: { EnableLogging: true },
  };
  return JSON.stringify(deepMerge(base, spec.dms.taskSettings));
}
