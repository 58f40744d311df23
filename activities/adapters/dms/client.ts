// The AWS clients of the aws-dms engine. Their endpoint comes from configuration (FERRY_DMS_ENDPOINT
// and FERRY_SECRETS_MANAGER_ENDPOINT point them at moto in development); region and credentials
// come from the spec or the worker's normal AWS credential chain.
import { Readable } from 'node:stream';
import { DatabaseMigrationServiceClient } from '@aws-sdk/client-database-migration-service';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

export interface DmsClientConfig {
  /** DMS API endpoint override (moto: http://127.0.0.1:5055); default: the region's AWS endpoint. */
  dmsEndpoint?: string;
  secretsManagerEndpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  maxAttempts?: number;
}

export interface DmsClients {
  dms: DatabaseMigrationServiceClient;
  secrets: SecretsManagerClient;
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;
const TIMESTAMP_KEY = /(Date|Time|Until)$/;

function epochify(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) return value.map((v) => epochify(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, epochify(v, k)]));
  }
  if (typeof value === 'string' && key && TIMESTAMP_KEY.test(key) && ISO.test(value)) {
    const ms = Date.parse(/(Z|[+-]\d{2}:?\d{2})$/.test(value) ? value : `${value}Z`);
    return Number.isNaN(ms) ? value : ms / 1000;
  }
  return value;
}

/**
 * The DMS API (JSON 1.1) sends timestamps as epoch seconds, and the SDK accepts nothing else.
 * Some emulators (moto 5.2.5) send ISO-8601 strings in timestamp fields: this middleware turns
 * those into epoch seconds before deserialization. Responses from AWS pass through unchanged
 * (numbers stay numbers); no value is invented.
 */
function tolerateIsoTimestamps(client: DatabaseMigrationServiceClient): void {
  const middleware = (next: (args: unknown) => Promise<{ response: unknown }>) => async (args: unknown) => {
    const out = await next(args);
    const response = out.response as { statusCode?: number; headers?: Record<string, string>; body?: unknown };
    if (!response || response.statusCode !== 200 || !(response.body instanceof Readable)) return out;
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) chunks.push(Buffer.from(chunk as Uint8Array));
    const raw = Buffer.concat(chunks).toString('utf8');
    let text = raw;
    if (raw.includes('"') && /\d{4}-\d{2}-\d{2}T/.test(raw)) {
      try {
        text = JSON.stringify(epochify(JSON.parse(raw)));
      } catch {
        text = raw; // not JSON: leave it to the SDK's own error
      }
    }
    response.body = Readable.from([Buffer.from(text, 'utf8')]);
    if (response.headers) delete response.headers['content-length'];
    return out;
  };
  client.middlewareStack.addRelativeTo(middleware as never, {
    relation: 'after',
    toMiddleware: 'deserializerMiddleware',
    name: 'ferryTolerateIsoTimestamps',
    override: true,
  });
}

export function createDmsClients(config: DmsClientConfig = {}): DmsClients {
  const common = {
    region: config.region,
    credentials: config.credentials,
    maxAttempts: config.maxAttempts ?? 5,
  };
  const dms = new DatabaseMigrationServiceClient({ ...common, endpoint: config.dmsEndpoint });
  tolerateIsoTimestamps(dms);
  const secrets = new SecretsManagerClient({ ...common, endpoint: config.secretsManagerEndpoint });
  return { dms, secrets };
}

/** Client configuration from the worker's environment (see scripts/components/moto.sh env). */
export function dmsClientConfigFromEnv(env: NodeJS.ProcessEnv = process.env): DmsClientConfig {
  return {
    dmsEndpoint: env.FERRY_DMS_ENDPOINT || undefined,
    secretsManagerEndpoint: env.FERRY_SECRETS_MANAGER_ENDPOINT || undefined,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
  };
}
