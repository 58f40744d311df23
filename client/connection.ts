// The one place Ferry decides how to reach Temporal, shared by the worker and the client so
// the two never disagree about address, namespace or TLS.
//
// Settings come from Temporal's standard environment configuration (@temporalio/envconfig):
// the TOML config file (TEMPORAL_CONFIG_FILE, else ~/.config/temporalio/temporal.toml), its
// profile (TEMPORAL_PROFILE, else "default"), then the TEMPORAL_* environment variables on top:
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH,
// TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME,
// TEMPORAL_GRPC_META_<HEADER>. Without any of them: 127.0.0.1:7233, namespace "default", no TLS.
import { Client, Connection, type Metadata } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { LoadClientProfileOptions } from '@temporalio/envconfig';
import { ferryDataConverter } from './payloadCodec';

export const DEFAULT_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_NAMESPACE = 'default';

/**
 * What both `Connection.connect` (client) and `NativeConnection.connect` (worker) accept, plus the
 * namespace. Holds the API key and TLS key material: pass it on, never log it (see describeConnection).
 */
export interface FerryConnectionOptions {
  address: string;
  namespace: string;
  /** true = TLS with system roots; an object = custom certificates; false/undefined = plaintext. */
  tls?: Exclude<ReturnType<typeof loadClientConnectConfig>['connectionOptions']['tls'], null>;
  apiKey?: string;
  /** gRPC headers (TEMPORAL_GRPC_META_*): may carry credentials, never print them. */
  metadata?: Metadata;
}

/** The config file or profile could not be read: a setup problem, reported before any network call. */
export class ConnectionConfigError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConnectionConfigError';
  }
}

/** Temporal did not answer at the configured address. */
export class TemporalUnreachableError extends Error {
  constructor(
    readonly address: string,
    readonly namespace: string,
    options?: { cause?: unknown },
  ) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : '';
    super(`cannot reach Temporal at ${address} (namespace ${namespace})${cause}`, options);
    this.name = 'TemporalUnreachableError';
  }
}

/** Resolve the connection settings from the config file, profile and TEMPORAL_* env vars. */
export function loadConnectionOptions(options: LoadClientProfileOptions = {}): FerryConnectionOptions {
  let loaded: ReturnType<typeof loadClientConnectConfig>;
  try {
    loaded = loadClientConnectConfig(options);
  } catch (err) {
    // First line only: TOML parse errors quote the offending line, which may hold an api_key.
    const first = String((err as Error).message ?? err).split('\n')[0];
    throw new ConnectionConfigError(`Temporal connection settings: ${first}`, { cause: err });
  }
  const { connectionOptions: c } = loaded;
  const result: FerryConnectionOptions = {
    address: c.address || DEFAULT_ADDRESS,
    namespace: loaded.namespace || DEFAULT_NAMESPACE,
  };
  if (c.tls) result.tls = c.tls;
  if (c.apiKey) result.apiKey = c.apiKey;
  if (c.metadata && Object.keys(c.metadata).length > 0) result.metadata = { ...c.metadata };
  return result;
}

/** A one-line description safe to print: never the API key, certificates or header values. */
export function describeConnection(o: FerryConnectionOptions): string {
  const parts = [`${o.address}`, `namespace ${o.namespace}`, o.tls ? 'TLS' : 'plaintext'];
  if (o.apiKey) parts.push('API key set');
  return parts.join(', ');
}

/**
 * The namespace in effect for this process. Computed once at import; a broken config file does
 * not throw here (it would make `import` fail far from the cause): connectClient reports it.
 */
export const namespace: string = (() => {
  try {
    return loadConnectionOptions().namespace;
  } catch {
    return process.env.TEMPORAL_NAMESPACE || DEFAULT_NAMESPACE;
  }
})();

export interface ConnectClientOptions {
  /** Override the loaded settings (tests point this at their own server). */
  connection?: Partial<FerryConnectionOptions>;
  /** How long to wait for Temporal to answer before giving up. Default 10s. */
  connectTimeoutMs?: number;
}

/**
 * Connect and return a Client. Fails fast with TemporalUnreachableError rather than letting
 * the first call hang, so the CLI can tell "Temporal is down" from "migration not found".
 */
export async function connectClient(opts: ConnectClientOptions = {}): Promise<Client> {
  const settings = { ...loadConnectionOptions(), ...opts.connection };
  let connection: Connection;
  try {
    connection = await Connection.connect({
      address: settings.address,
      tls: settings.tls,
      apiKey: settings.apiKey,
      metadata: settings.metadata,
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
    });
  } catch (err) {
    throw new TemporalUnreachableError(settings.address, settings.namespace, { cause: err });
  }
  // The workers' codec: large payloads (results, progress) arrive gzipped.
  return new Client({ connection, namespace: settings.namespace, dataConverter: ferryDataConverter });
}
