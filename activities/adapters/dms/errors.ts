// DMS-specific failures a user can act on (FerryError: the activity layer keeps type and message).
import { FerryError } from '../errors';

/** The replication task failed or stopped on an error: the message carries DMS's LastFailureMessage. */
export class DmsTaskFailed extends FerryError {
  readonly retryable = false;
}

/** A resource with Ferry's identifier belongs to another migration (its tag says so). */
export class DmsResourceConflict extends FerryError {
  readonly retryable = false;
}

/** DMS rejected a request for a reason a retry will not fix (bad parameter, quota, permissions). */
export class DmsRequestFailed extends FerryError {
  readonly retryable = false;
}

/** DMS could not be reached or throttled us: retried within the connection retry window. */
export class DmsUnavailable extends FerryError {
  readonly retryable = true;
}
