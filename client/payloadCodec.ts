// The payload codec every Ferry worker and client uses (issue #3): payloads above a threshold are
// gzipped, so a migration of 10,000 tables stays under Temporal's 2 MB payload limit (the table
// list, the full-load plan and the final progress are highly repetitive JSON, ~10-20x smaller
// compressed) and its history stays small. Payloads under the threshold are left as they are, so
// the Temporal UI shows a normal migration's inputs and results in clear.
//
// Imported by the worker (worker/createWorker.ts), the client (client/connection.ts), the tests
// and the bench drivers: one module, so they cannot disagree. Codecs run outside the workflow
// sandbox (the workflow bundle never imports this file, nor node:zlib).
//
// An encoded payload keeps its original metadata, with `encoding` set to `binary/gzip` and the
// original encoding under `ferry-gzip-inner-encoding`. decode only touches payloads carrying both
// (anything else, e.g. every payload of a history recorded before this codec, passes through).
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';

export const GZIP_ENCODING = 'binary/gzip';
export const INNER_ENCODING_KEY = 'ferry-gzip-inner-encoding';
/** Payloads of more than this many bytes are compressed. */
export const DEFAULT_GZIP_THRESHOLD_BYTES = 128 * 1024;

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const utf8 = new TextEncoder();
const text = new TextDecoder();

export class GzipPayloadCodec implements PayloadCodec {
  constructor(readonly thresholdBytes: number = DEFAULT_GZIP_THRESHOLD_BYTES) {}

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => this.encodeOne(p)));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return Promise.all(payloads.map((p) => decodeOne(p)));
  }

  private async encodeOne(payload: Payload): Promise<Payload> {
    const data = payload.data;
    if (!data || data.length <= this.thresholdBytes) return payload;
    const metadata = payload.metadata ?? {};
    if (isGzipped(metadata)) return payload; // already ours
    const compressed = new Uint8Array(await gzipAsync(data));
    if (compressed.length >= data.length) return payload;
    const inner = metadata.encoding ?? utf8.encode('');
    return { metadata: { ...metadata, encoding: utf8.encode(GZIP_ENCODING), [INNER_ENCODING_KEY]: inner }, data: compressed };
  }
}

function isGzipped(metadata: Record<string, Uint8Array | null | undefined>): boolean {
  const enc = metadata.encoding;
  return !!enc && text.decode(enc) === GZIP_ENCODING && metadata[INNER_ENCODING_KEY] != null;
}

async function decodeOne(payload: Payload): Promise<Payload> {
  const metadata = payload.metadata;
  if (!metadata || !isGzipped(metadata)) return payload;
  const { [INNER_ENCODING_KEY]: inner, ...rest } = metadata;
  const restored: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(rest)) if (v) restored[k] = v;
  if (inner && inner.length > 0) restored.encoding = inner;
  else delete restored.encoding;
  return { metadata: restored, data: new Uint8Array(await gunzipAsync(payload.data ?? new Uint8Array())) };
}

/** The data converter of every Ferry worker and client: default JSON payloads, gzip above 128 KiB. */
export const ferryDataConverter: DataConverter = { payloadCodecs: [new GzipPayloadCodec()] };
