// The compiled CLI: client/cli.ts and everything it imports as one CommonJS file (DIR/ferry.cjs),
// and its launcher (DIR/client/launcher.js), which runs it through a V8 code cache. One file loads
// faster than hundreds (no module resolution), and the launcher's cache needs a single script.
//
//   tsx scripts/build-cli.ts [DIR=dist]
import path from 'node:path';
import { buildSync } from 'esbuild';

export function buildCli(dir: string): { bundle: string; launcher: string } {
  const root = path.resolve(__dirname, '..');
  const bundle = path.join(dir, 'ferry.cjs');
  const launcher = path.join(dir, 'client', 'launcher.js');
  const common = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', logLevel: 'warning', sourcemap: true } as const;
  // dynamic-import off: esbuild writes import() (the codec server's lazy node:http) as require, so
  // the launcher's vm.Script needs no dynamic-import loader.
  buildSync({ ...common, entryPoints: [path.join(root, 'client/bundleEntry.ts')], outfile: bundle, supported: { 'dynamic-import': false } });
  buildSync({ ...common, entryPoints: [path.join(root, 'client/launcher.ts')], outfile: launcher });
  return { bundle, launcher };
}

if (require.main === module) {
  const { bundle, launcher } = buildCli(path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'dist')));
  console.log(`CLI bundle written to ${bundle}, launcher ${launcher}`);
}
