// The codec server the Temporal UI calls (ferry codec-server): a payload gzipped by Ferry's codec
// comes back decoded, byte for byte, through Temporal's /decode protocol; /encode is the inverse;
// the UI's origin gets CORS answers, other origins none; a malformed body is a 400 that says why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { startCodecServer, type RunningCodecServer } from '../../client/codecServer';
import { GZIP_ENCODING, GzipPayloadCodec } from '../../client/payloadCodec';

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');
const UI = 'http://localhost:8233';

describe('ferry codec-server', () => {
  let server: RunningCodecServer;
  beforeAll(async () => {
    server = await startCodecServer({ port: 0, origins: [UI] });
  });
  afterAll(async () => {
    await server.close();
  });

  const post = (op: string, body: unknown, origin = UI) =>
    fetch(`${server.url}/${op}`, { method: 'POST', headers: { 'Content-Type': 'application/json', Origin: origin }, body: JSON.stringify(body) });

  it('decodes a gzipped payload to the original JSON payload, and encodes it back', async () => {
    const value = { tables: Array.from({ length: 5000 }, (_, i) => ({ schema: 'public', name: `t${i}`, bytes: i * 8192 })) };
    const plain = defaultPayloadConverter.toPayload(value);
    const [encoded] = await new GzipPayloadCodec().encode([plain]);
    expect(Buffer.from(encoded!.metadata!.encoding!).toString()).toBe(GZIP_ENCODING);
    const wire = { metadata: Object.fromEntries(Object.entries(encoded!.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(encoded!.data!) };

    const res = await post('decode', { payloads: [wire] });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(UI);
    const decoded = ((await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads[0]!;
    expect(Buffer.from(decoded.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(decoded.data, 'base64').toString('utf8'))).toEqual(value);

    const again = await post('encode', { payloads: [decoded] });
    const reencoded = ((await again.json()) as { payloads: { metadata: Record<string, string> }[] }).payloads[0]!;
    expect(Buffer.from(reencoded.metadata.encoding!, 'base64').toString()).toBe(GZIP_ENCODING);
  });

  it('answers the UI origin preflight, not another origin, and names a malformed body', async () => {
    const pre = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: UI, 'Access-Control-Request-Method': 'POST' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/X-Namespace/);
    const other = await post('decode', { payloads: [] }, 'http://evil.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const bad = await post('decode', { nothing: true });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('"payloads"');
  });
});
