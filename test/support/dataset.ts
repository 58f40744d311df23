import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { password, ports, repoRoot, type Side } from './env';

/** Load the demo dataset (scripts/demo-data.sql) into `database` on `side`; scale 1 is ~60 MB. */
export function loadDemoData(side: Side, database: string, scale: number): void {
  execFileSync(
    'psql',
    ['-X', '-q', '-h', '127.0.0.1', '-p', String(ports[side]), '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1',
      '-v', `scale=${scale}`, '-f', path.join(repoRoot, 'scripts/demo-data.sql')],
    { env: { ...process.env, PGPASSWORD: password(side), PGOPTIONS: '-c client_min_messages=warning' }, stdio: ['ignore', 'ignore', 'inherit'] },
  );
}
