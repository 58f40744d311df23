// COPY data passed from one server to another in the wire protocol's own framing.
//
// A COPY TO STDOUT arrives as CopyData messages (one per row) and a COPY FROM STDIN takes
// CopyData messages of any size: the two framings are the same bytes. So the source's CopyData
// messages are forwarded to the target as they arrive from the socket, whole socket reads at a
// time, instead of being unwrapped row by row and wrapped again. Per read, the only work is
// hopping over message headers (to drop the few other messages a server may interleave, notices
// and parameter changes, and to find the end). With rows of ~100 bytes this is what keeps the
// worker from being the bottleneck of a stream.
import { Readable } from 'node:stream';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { CopyProgress } from '../engine';

const COPY_DATA = 0x64; // 'd'
const COPY_DONE = 0x63; // 'c'
const ERROR_RESPONSE = 0x45; // 'E'
const HEADER = 5; // type byte + int32 length (which counts itself)
const PROGRESS_EVERY_BYTES = 1 << 20;

/** The parts of pg's Connection this stream uses while it owns the socket. */
interface PgSocket {
  read(): Buffer | null;
  listeners(event: 'data'): ((b: Buffer) => void)[];
  removeListener(event: string, fn: (...a: never[]) => void): void;
  on(event: string, fn: (...a: never[]) => void): void;
  pause(): void;
  resume(): void;
}
interface PgConnection {
  stream: PgSocket;
  query(text: string): void;
}

/**
 * `COPY ... TO STDOUT` as a Readable of the server's CopyData messages, framing included (the
 * CopyDone is not passed on). Submit it with client.query(). Counts rows (CopyData messages: one
 * per row, plus the binary format's trailer) and payload bytes, and reports them about every MB.
 */
export class CopyDataOut extends Readable {
  rowCount = 0;
  /** CopyData messages seen and their payload bytes. */
  messages = 0;
  bytes = 0;
  private connection: PgConnection | undefined;
  private pgDataHandler: ((b: Buffer) => void) | undefined;
  private readonly onReadable = () => this.forward();
  private wanted = false;
  private forwarding = false;
  private done = false;
  /** Bytes of the current message's body still to come, and whether they are passed on. */
  private remaining = 0;
  private passing = false;
  /** A header split between two socket reads. */
  private readonly header = Buffer.alloc(HEADER);
  private headerHave = 0;
  private lastReport = 0;
  /** Set by pg for its query timeout mechanism. */
  callback: () => void = () => undefined;

  constructor(
    readonly text: string,
    private readonly onProgress?: (p: CopyProgress) => void,
  ) {
    super();
  }

  submit(connection: PgConnection): void {
    this.connection = connection;
    const stream = connection.stream;
    const listeners = stream.listeners('data');
    if (listeners.length !== 1) throw new Error(`CopyDataOut: expected one data listener on the connection, found ${listeners.length}`);
    this.pgDataHandler = listeners[0];
    stream.removeListener('data', this.pgDataHandler!);
    stream.pause();
    stream.on('readable', this.onReadable);
    connection.query(this.text);
  }

  override _read(): void {
    this.wanted = true;
    this.forward();
  }

  private forward(): void {
    if (this.forwarding || !this.wanted || !this.connection || this.done) return;
    this.forwarding = true;
    try {
      let chunk: Buffer | null;
      while (this.wanted && !this.done && (chunk = this.connection.stream.read()) !== null) this.parse(chunk);
    } finally {
      this.forwarding = false;
    }
  }

  /** Pass on the CopyData runs of one socket read; stop at CopyDone or an error (pg takes over from there). */
  private parse(chunk: Buffer): void {
    let pos = 0;
    let runStart = -1; // start of a run of forwarded bytes in this chunk
    const flushRun = (end: number) => {
      if (runStart >= 0 && end > runStart) this.wanted = this.push(chunk.subarray(runStart, end)) && this.wanted;
      runStart = -1;
    };
    while (pos < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - pos);
        if (this.passing && runStart < 0) runStart = pos;
        if (!this.passing) flushRun(pos);
        pos += n;
        this.remaining -= n;
        continue;
      }
      // A message header: in place when whole, else gathered across reads.
      let type: number;
      let length: number;
      const headerStart = pos;
      let splitHeader: Buffer | undefined;
      if (this.headerHave === 0 && chunk.length - pos >= HEADER) {
        type = chunk[pos]!;
        length = chunk.readUInt32BE(pos + 1) - 4;
        pos += HEADER;
      } else {
        flushRun(pos); // the run ends before this header: its type is not known yet
        const take = Math.min(HEADER - this.headerHave, chunk.length - pos);
        chunk.copy(this.header, this.headerHave, pos, pos + take);
        this.headerHave += take;
        pos += take;
        if (this.headerHave < HEADER) break;
        splitHeader = Buffer.from(this.header.subarray(0, HEADER - take)); // the part from the previous read
        this.headerHave = 0;
        type = this.header[0]!;
        length = this.header.readUInt32BE(1) - 4;
      }
      if (type === COPY_DATA) {
        this.messages += 1;
        this.bytes += length;
        if (splitHeader) {
          flushRun(headerStart);
          this.wanted = this.push(splitHeader) && this.wanted;
        }
        if (runStart < 0) runStart = headerStart;
        this.remaining = length;
        this.passing = true;
        continue;
      }
      flushRun(headerStart);
      if (type === ERROR_RESPONSE) {
        // pg parses the error (and what follows) and calls handleError.
        const rest = splitHeader ? Buffer.concat([splitHeader, chunk.subarray(headerStart)]) : chunk.subarray(headerStart);
        this.detach(rest);
        return;
      }
      if (type === COPY_DONE) {
        this.report(true);
        this.detach(chunk.subarray(pos));
        this.push(null);
        return;
      }
      // CopyOutResponse, NoticeResponse, ParameterStatus...: skipped.
      this.remaining = length;
      this.passing = false;
    }
    flushRun(chunk.length);
    this.report(false);
  }

  private report(final: boolean): void {
    if (!this.onProgress || (!final && this.bytes - this.lastReport < PROGRESS_EVERY_BYTES)) return;
    this.lastReport = this.bytes;
    try {
      this.onProgress({ rows: this.rowsSoFar(), bytes: this.bytes });
    } catch {
      // progress is best effort
    }
  }

  /** Rows streamed so far: one CopyData per row (a binary COPY adds one for its trailer). */
  rowsSoFar(): number {
    return Math.max(0, this.messages - (/\(FORMAT binary\)\s*$/i.test(this.text) ? 1 : 0));
  }

  /** Give the socket back to pg, with what it has not parsed yet. */
  private detach(unread: Buffer): void {
    this.done = true;
    const connection = this.connection!;
    const stream = connection.stream;
    stream.removeListener('readable', this.onReadable);
    stream.on('data', this.pgDataHandler!);
    if (unread.length > 0) this.pgDataHandler!(unread);
    process.nextTick(() => stream.resume());
  }

  // ---- called by pg once it owns the socket again

  handleError(err: Error): void {
    this.done = true;
    this.destroy(err);
  }

  handleCommandComplete(msg: { text?: string }): void {
    const match = /COPY (\d+)/.exec(msg?.text ?? '');
    if (match) this.rowCount = Number(match[1]);
  }

  handleReadyForQuery(): void {
    this.callback();
  }
}

/**
 * `COPY ... FROM STDIN` as a Writable that takes CopyData messages already framed (from
 * CopyDataOut) and sends them as they are; it sends the CopyDone itself when it ends.
 *
 * Destroyed (cancelled, or the source failed), it may have stopped inside a CopyData message,
 * where a CopyFail would be read as row data and the server would wait forever: so it sends
 * nothing, and the caller must drop the session (closing it rolls the transaction back).
 */
export function copyDataIn(text: string): ReturnType<typeof copyFrom> {
  const writer = copyFrom(text);
  const raw = writer as unknown as {
    connection?: { stream: NodeJS.WritableStream } | null;
    flushChunk: (chunk: Buffer) => boolean;
    _destroy: (err: Error | null, cb: (err?: Error | null) => void) => void;
    handleError: (err: Error) => void;
    callback: () => void;
  };
  raw.flushChunk = (chunk: Buffer) => raw.connection!.stream.write(chunk);
  raw._destroy = (err, cb) => cb(err);
  const handleError = raw.handleError.bind(writer);
  // The session dropped after a destroy reports its end here: nobody listens any more.
  raw.handleError = (err: Error) => (writer.destroyed ? raw.callback() : handleError(err));
  return writer;
}

/** Submit a CopyDataOut on a client (pg's typings know only their own query kinds). */
export function startCopyOut(client: pg.Client, out: CopyDataOut): CopyDataOut {
  return client.query(out as unknown as pg.Submittable) as unknown as CopyDataOut;
}
