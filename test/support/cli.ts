// The `ferry` CLI run in-process (client/cli `main`), with its output captured as text.
import { Writable } from 'node:stream';
import { main } from '../../client/cli';

/** A writable that keeps what it is given. */
export function textSink(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** Stdout and stderr sinks and the Io `main` takes (not a TTY, as in a script). */
export function captureIo() {
  const out = textSink();
  const err = textSink();
  return { io: { out: out.stream, err: err.stream, isTTY: false }, out: out.text, err: err.text };
}

/** Run `ferry ARGS` in this process; its exit code and output. */
export async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await main(args, c.io);
  return { code, out: c.out(), err: c.err() };
}
