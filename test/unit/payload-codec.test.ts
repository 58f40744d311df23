// Issue #3: payloads of a 10,000-table migration pass Temporal's 2 MB limit unless compressed.
// The Ferry codec gzips large payloads only, and passes through anything it did not encode.
import { describe, expect, it } from 'vitest';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { historyText } from '../support/history';
import { DEFAULT_GZIP_THRESHOLD_BYTES, GZIP_ENCODING, GzipPayloadCodec, ferryDataConverter } from '../../client/payloadCodec';

const codec = new GzipPayloadCodec();
const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');

/** A table list like a 10,000-table migration's: repetitive JSON, about `mb` MB. */
function tableList(mb: number): unknown[] {
  const tables: unknown[] = [];
  for (let i = 0, bytes = 0; bytes < mb * 1024 * 1024; i++) {
    const name = `t${String(i).padStart(5, '0')}`;
    const table = {
      source: { schema: 'public', name },
      target: { schema: 'public', name },
      columns: [{ source: 'id', target: 'id' }, { source: 'v', target: 'v' }],
      estimatedBytes: 49152 + (i % 7) * 8192,
      estimatedRows: 1,
    };
    tables.push(table);
    bytes += JSON.stringify(table).length + 1;
  }
  return tables;
}

describe('the gzip payload codec', () => {
  it('round-trips a large payload, marked binary/gzip with its inner encoding kept', async () => {
    const value = { tables: tableList(0.5) };
    const payload = defaultPayloadConverter.toPayload(value);
    const [encoded] = await codec.encode([payload]);
    expect(text(encoded!.metadata!.encoding)).toBe(GZIP_ENCODING);
    expect(text(encoded!.metadata!['ferry-gzip-inner-encoding'])).toBe('json/plain');
    expect(encoded!.data!.length).toBeLessThan(payload.data!.length / 5);
    const [decoded] = await codec.decode([encoded!]);
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
    expect(Object.keys(decoded!.metadata!)).toEqual(Object.keys(payload.metadata!));
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(value);
  });

  it('leaves payloads at or under the threshold untouched (readable in the Temporal UI)', async () => {
    const small = defaultPayloadConverter.toPayload({ phase: 'full_load', tables: tableList(0.05) });
    expect(small.data!.length).toBeLessThanOrEqual(DEFAULT_GZIP_THRESHOLD_BYTES);
    const [encoded] = await codec.encode([small]);
    expect(encoded).toBe(small);
    const empty: Payload = { metadata: { encoding: new TextEncoder().encode('binary/null') } };
    expect(await codec.encode([empty])).toEqual([empty]);
  });

  it('passes through payloads it did not encode (histories recorded before it, other codecs)', async () => {
    const plain = defaultPayloadConverter.toPayload({ tables: tableList(0.3) });
    const foreign: Payload = { metadata: { encoding: new TextEncoder().encode(GZIP_ENCODING) }, data: new Uint8Array([1, 2, 3]) };
    const other: Payload = { metadata: { encoding: new TextEncoder().encode('binary/encrypted') }, data: new Uint8Array([9, 9]) };
    const decoded = await codec.decode([plain, foreign, other]);
    expect(decoded[0]).toBe(plain);
    expect(decoded[1]).toBe(foreign);
    expect(decoded[2]).toBe(other);
  });

  it('encodes a 3 MB repetitive JSON payload under 2 MB (Temporal\'s payload limit)', async () => {
    const value = { tables: tableList(3) };
    const payload = defaultPayloadConverter.toPayload(value);
    expect(payload.data!.length).toBeGreaterThan(3 * 1024 * 1024);
    const [encoded] = await codec.encode([payload]);
    expect(encoded!.data!.length).toBeLessThan(2 * 1024 * 1024);
    const [decoded] = await codec.decode([encoded!]);
    expect(defaultPayloadConverter.fromPayload(decoded!)).toEqual(value);
  });

  it('is the codec of the data converter every worker and client uses', () => {
    expect(ferryDataConverter.payloadCodecs).toHaveLength(1);
    expect(ferryDataConverter.payloadCodecs![0]).toBeInstanceOf(GzipPayloadCodec);
  });

  it('leaves gzipped payloads searchable by the tests\' "no password in the history" check', async () => {
    const [encoded] = await codec.encode([defaultPayloadConverter.toPayload({ tables: tableList(0.3), password: 'env:SECRET_REF' })]);
    expect(text(encoded!.metadata!.encoding)).toBe(GZIP_ENCODING);
    expect(historyText({ events: [{ result: { payloads: [encoded] } }] })).toContain('env:SECRET_REF');
  });
});
