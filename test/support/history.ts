// Everything a workflow history says, as text: every string, and every payload's bytes decoded
// (payloads are JSON bytes, so a secret would show up here in clear). Payloads the Ferry codec
// gzipped (client/payloadCodec.ts) are unzipped first, so they are searched too.
import { gunzipSync } from 'node:zlib';
import { GZIP_ENCODING, INNER_ENCODING_KEY } from '../../client/payloadCodec';

function gzippedData(v: object): Uint8Array | undefined {
  const { metadata, data } = v as { metadata?: Record<string, unknown> | null; data?: unknown };
  const encoding = metadata?.encoding;
  if (!(encoding instanceof Uint8Array) || !(data instanceof Uint8Array) || !metadata?.[INNER_ENCODING_KEY]) return undefined;
  return Buffer.from(encoding).toString('utf8') === GZIP_ENCODING ? data : undefined;
}

export function historyText(history: unknown): string {
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'string') parts.push(v);
    else if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString('utf8'));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === 'object') {
      const zipped = gzippedData(v);
      if (zipped) parts.push(gunzipSync(zipped).toString('utf8'));
      Object.values(v).forEach(walk);
    }
  };
  walk(history);
  return parts.join('\n');
}
