// Starts the real components once for the whole run (idempotent: reuses what already runs).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

export default function setup(): void {
  execFileSync(path.join(root, 'scripts/dev.sh'), ['up'], { stdio: 'inherit', timeout: 20 * 60_000 });
  const secrets = path.join(process.env.FERRY_STATE_DIR ?? path.join(root, '.ferry'), 'secrets');
  process.env.FERRY_SOURCE_PASSWORD = readFileSync(path.join(secrets, 'source-password'), 'utf8').trim();
  process.env.FERRY_TARGET_PASSWORD = readFileSync(path.join(secrets, 'target-password'), 'utf8').trim();
  process.env.TEMPORAL_ADDRESS ??= '127.0.0.1:7233';
}
