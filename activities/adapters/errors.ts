// One error type per failure a user can act on. Adapters throw these; the activity layer turns
// them into ApplicationFailure (nonRetryable where retrying cannot help) with the same message.

export abstract class FerryError extends Error {
  /** True when the same call may succeed later (a lost connection), false when a person must act. */
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server could not be reached or dropped the connection: retried within the connection retry window. */
export class ConnectionFailed extends FerryError {
  readonly retryable = true;
}

/** Wrong user or password, or no permission to connect. */
export class AuthenticationFailed extends FerryError {
  readonly retryable = false;
}

/** A secret reference could not be resolved on the worker (missing env var or file). */
export class SecretUnavailable extends FerryError {
  readonly retryable = false;
}

/** The precheck found a failing item; the message lists them. */
export class PrecheckFailed extends FerryError {
  readonly retryable = false;
}

/** A target object Ferry would create already exists (names the object). */
export class TargetConflict extends FerryError {
  readonly retryable = false;
}

/** pg_dump / pg_restore or DDL on the target failed (names the object where known). */
export class SchemaCopyFailed extends FerryError {
  readonly retryable = false;
}

/** Copying a table failed for a reason a retry will not fix (names the table). */
export class CopyFailed extends FerryError {
  readonly retryable = false;
}

/** The exported snapshot a chunk must read under is gone: reading elsewhere would break consistency. */
export class SnapshotLost extends FerryError {
  readonly retryable = false;
}

/** The source could not be made read-only (or made writable again). */
export class FencingFailed extends FerryError {
  readonly retryable = false;
}

/** A column type the engine cannot carry (names table and column). */
export class UnsupportedType extends FerryError {
  readonly retryable = false;
}
