// Starts the real components once for the whole run (idempotent: reuses what already runs), and
// hands the test processes what `scripts/dev.sh env` exports: ports, endpoints, password variables.
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');

export default function setup(): void {
  const devsh = path.join(root, 'scripts/dev.sh');
  execFileSync(devsh, ['up'], { stdio: 'inherit', timeout: 20 * 60_000 });
  const exports = execFileSync('bash', ['-c', `eval "$("${devsh}" env)" && env -0`], { encoding: 'utf8' });
  for (const entry of exports.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && /^(FERRY_|TEMPORAL_|AWS_|PATH$)/.test(entry.slice(0, eq))) process.env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
}
