// The local Temporal UI shows Ferry's gzipped payloads in clear: scripts/dev.sh starts the codec
// server with Temporal and points the UI at it (--ui-codec-endpoint). Checked on the running
// servers: the UI's settings name the codec server, and that server decodes a payload Ferry's
// codec gzipped, answering the UI's origin with CORS.
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { GZIP_ENCODING, GzipPayloadCodec } from '../../client/payloadCodec';

const uiPort = Number(process.env.FERRY_TEMPORAL_UI_PORT ?? 8233);
const codecEndpoint = process.env.FERRY_CODEC_ENDPOINT ?? `http://127.0.0.1:${process.env.FERRY_CODEC_PORT ?? 8888}`;
const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64');

describe('the dev environment decodes payloads for the Temporal UI', () => {
  it("the UI's codec endpoint is Ferry's codec server, which decodes a gzipped payload for the UI's origin", async () => {
    const settings = (await (await fetch(`http://127.0.0.1:${uiPort}/api/v1/settings`)).json()) as { Codec?: { Endpoint?: string } };
    // A Temporal started by an older scripts/dev.sh has none: `scripts/dev.sh down && scripts/dev.sh up`.
    expect(settings.Codec?.Endpoint).toBe(codecEndpoint);

    const value = { tables: Array.from({ length: 6000 }, (_, i) => ({ schema: 'public', name: `t${i}` })) };
    // Over 128 KiB, so the codec gzips it.
    const [gzipped] = await new GzipPayloadCodec().encode([defaultPayloadConverter.toPayload(value)]);
    expect(Buffer.from(gzipped!.metadata!.encoding!).toString()).toBe(GZIP_ENCODING);
    const origin = `http://localhost:${uiPort}`;
    const res = await fetch(`${codecEndpoint}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Origin: origin },
      body: JSON.stringify({
        payloads: [{ metadata: Object.fromEntries(Object.entries(gzipped!.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(gzipped!.data!) }],
      }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(origin);
    const decoded = ((await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads[0]!;
    expect(Buffer.from(decoded.metadata.encoding!, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(decoded.data, 'base64').toString('utf8'))).toEqual(value);
  });
});
