// A codec server for the Temporal UI and the `temporal` CLI: they call it to show Ferry's gzipped
// payloads (inputs and results over 128 KiB, see payloadCodec.ts) in clear, instead of as
// binary/gzip. The protocol is Temporal's: POST /decode and POST /encode with
// `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`, answered in the same shape. The UI
// calls it from the browser, so it answers CORS preflights for the UI's origin.
import type { AddressInfo } from 'node:net';
import type { Payload } from '@temporalio/common';
import { GzipPayloadCodec } from './payloadCodec';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;

function fromJson(p: JsonPayload): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(v, 'base64');
  return { metadata, data: Buffer.from(p.data ?? '', 'base64') };
}

function toJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

export interface CodecServerOptions {
  port: number;
  host?: string;
  /** Origins allowed to call from a browser (the Temporal UI's, e.g. http://localhost:8233). */
  origins: string[];
}

export interface RunningCodecServer {
  url: string;
  close(): Promise<void>;
}

export async function startCodecServer(options: CodecServerOptions): Promise<RunningCodecServer> {
  // Loaded here, not at the top: every `ferry` command imports this module, only this one serves HTTP (11 ms of each start).
  const http = await import('node:http');
  const codec = new GzipPayloadCodec();
  const server = http.createServer((req, res) => {
    const origin = req.headers.origin;
    if (origin && (options.origins.includes(origin) || options.origins.includes('*'))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    const op = req.url?.split('?')[0];
    if (req.method !== 'POST' || (op !== '/decode' && op !== '/encode')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('POST /decode or /encode\n');
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payloads?: JsonPayload[] };
          if (!Array.isArray(body.payloads)) throw new Error('the body has no "payloads" array');
          const payloads = body.payloads.map(fromJson);
          const out = op === '/decode' ? await codec.decode(payloads) : await codec.encode(payloads);
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ payloads: out.map(toJson) }));
        } catch (err) {
          res.writeHead(400, { 'Content-Type': 'text/plain' }).end(`${(err as Error).message}\n`);
        }
      })();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
