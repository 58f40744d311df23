// CopyDataOut passes the source's CopyData messages on as they are, however the socket splits
// them, drops the other messages a server interleaves, and hands the socket back to pg at the end.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { CopyDataOut } from '../../activities/adapters/postgres/copystream';

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([header, body]);
}

/** A stand-in for pg's socket: read() hands out what the test queued, pg's own data listener records what it gets back. */
class FakeSocket extends EventEmitter {
  queue: Buffer[] = [];
  handedBack: Buffer[] = [];
  sent: string[] = [];
  constructor() {
    super();
    this.on('data', (b: Buffer) => this.handedBack.push(b));
  }
  read(): Buffer | null {
    return this.queue.shift() ?? null;
  }
  pause(): void {}
  /** Flowing again (pg has the socket back): what is still buffered comes as data events. */
  resume(): void {
    for (let b = this.queue.shift(); b; b = this.queue.shift()) this.emit('data', b);
  }
  feed(data: Buffer, size: number): void {
    for (let i = 0; i < data.length; i += size) this.queue.push(data.subarray(i, i + size));
    this.emit('readable');
  }
}

function run(data: Buffer, size: number, progress?: (p: { rows: number; bytes: number }) => void) {
  const socket = new FakeSocket();
  const out = new CopyDataOut('COPY t TO STDOUT (FORMAT binary)', progress);
  out.submit({ stream: socket as never, query: (text: string) => socket.sent.push(text) });
  const parts: Buffer[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    out.on('data', (b: Buffer) => parts.push(Buffer.from(b)));
    out.on('end', resolve);
    out.on('error', reject);
  });
  socket.feed(data, size);
  return { socket, out, ended, parts };
}

describe('CopyDataOut', () => {
  const rows = Array.from({ length: 40 }, (_, i) => message('d', Buffer.alloc(1 + ((i * 37) % 300), i)));
  const copyData = Buffer.concat(rows);
  const after = Buffer.concat([message('C', Buffer.from('COPY 39\0')), message('Z', Buffer.from('T'))]);
  const stream = Buffer.concat([
    message('H', Buffer.from([1, 0, 0])),
    ...rows.slice(0, 10),
    message('N', Buffer.from('SNOTICE\0\0')),
    ...rows.slice(10, 30),
    message('S', Buffer.from('TimeZone\0UTC\0')),
    ...rows.slice(30),
    message('c', Buffer.alloc(0)),
    after,
  ]);

  it('forwards exactly the CopyData messages, framing included, for any split', async () => {
    for (const size of [1, 2, 3, 4, 5, 6, 7, 13, 64, 1000, stream.length]) {
      const { socket, out, ended, parts } = run(stream, size);
      await ended;
      await new Promise((r) => process.nextTick(r)); // the socket resumes on the next tick
      expect(Buffer.concat(parts).equals(copyData), `split ${size}`).toBe(true);
      // Everything after CopyDone goes back to pg, in order.
      expect(Buffer.concat(socket.handedBack).equals(after), `split ${size}`).toBe(true);
      expect(socket.sent).toEqual(['COPY t TO STDOUT (FORMAT binary)']);
      expect(out.messages).toBe(40);
      expect(out.rowsSoFar()).toBe(39); // the binary trailer is a message of its own
      expect(out.bytes).toBe(copyData.length - 40 * 5);
    }
  });

  it('hands an ErrorResponse (and what follows) to pg', async () => {
    const error = message('E', Buffer.from('SERROR\0C22023\0Minvalid\0\0'));
    const data = Buffer.concat([message('H', Buffer.from([1, 0, 0])), ...rows.slice(0, 3), error, message('Z', Buffer.from('E'))]);
    for (const size of [1, 3, 5, 64, data.length]) {
      const { socket, parts } = run(data, size);
      await new Promise((r) => setTimeout(r, 1));
      expect(Buffer.concat(parts).equals(Buffer.concat(rows.slice(0, 3))), `split ${size}`).toBe(true);
      expect(Buffer.concat(socket.handedBack).equals(Buffer.concat([error, message('Z', Buffer.from('E'))])), `split ${size}`).toBe(true);
    }
  });

  it('reports progress as it streams', async () => {
    const big = Array.from({ length: 30 }, (_, i) => message('d', Buffer.alloc(100_000, i)));
    const seen: number[] = [];
    const { ended } = run(Buffer.concat([...big, message('c', Buffer.alloc(0))]), 65536, (p) => seen.push(p.bytes));
    await ended;
    expect(seen.length).toBeGreaterThanOrEqual(3);
    expect(seen[seen.length - 1]).toBe(3_000_000);
  });
});
