// Replays workflow histories against today's workflow code; exits non-zero on any
// non-determinism. Run before deploying a change:
//   npx tsx scripts/replay-history.ts test/fixtures/*.history.pb
// Files: binary protobuf `History` (.pb, what the e2e test records) or JSON (.json).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { ferryDataConverter } from '../client/payloadCodec';

async function main(): Promise<void> {
  const files = process.argv.slice(2);
  if (files.length === 0) throw new Error('usage: replay-history.ts HISTORY.json...');
  for (const file of files) {
    const history: unknown = file.endsWith('.pb')
      ? temporal.api.history.v1.History.decode(readFileSync(file))
      : JSON.parse(readFileSync(file, 'utf8'));
    await Worker.runReplayHistory(
      { workflowsPath: path.resolve(__dirname, '../workflows/index.ts'), dataConverter: ferryDataConverter },
      history,
      path.basename(file).replace(/\.history\.(pb|json)$/, ''),
    );
    console.log(`replayed ${file}: deterministic`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : err);
  process.exit(1);
});
