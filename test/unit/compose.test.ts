// No Docker engine runs here: check that docker-compose.yml parses and wires every component.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.resolve(__dirname, '../../docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown> }>;
  };

  it('has Temporal with the UI and Ferry search attributes, two PostgreSQL, fake GCS and the worker', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['gcs', 'source', 'target', 'temporal', 'worker']);
    expect(compose.services.temporal?.command).toContain('--search-attribute=FerryPhase=Keyword');
    expect(compose.services.source?.command).toContain('wal_level=logical');
    expect(compose.services.worker?.environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');
    expect(Object.keys(compose.services.worker?.depends_on ?? {}).sort()).toEqual(['source', 'target', 'temporal']);
  });
});
