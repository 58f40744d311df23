// A migration recorded on the real dev server (test/e2e with FERRY_RECORD_HISTORY=1) must replay
// against today's workflow code: a change that would break running migrations fails here.
// Change workflow logic with patched() to keep old histories valid; re-record only on purpose.
// The replay runs in plain Node (scripts/replay-history.ts): protobufjs type checks do not
// survive vitest's module loader.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
const fixture = path.join(root, 'test/fixtures/offline-migration.history.pb');

describe('replay', () => {
  it('replays the recorded offline migration history deterministically', () => {
    expect(readFileSync(fixture).length).toBeGreaterThan(10_000);
    const out = execFileSync(path.join(root, 'node_modules/.bin/tsx'), ['scripts/replay-history.ts', fixture], { cwd: root, encoding: 'utf8' });
    expect(out).toContain('deterministic');
  }, 90_000);
});
