// Entry of the single-file CLI that `npm run build` bundles into dist/ferry.cjs (started by
// client/launcher.ts). Inside a bundle `require.main === module` never holds, so cli.ts cannot
// tell it was executed: this file says so.
import { runCli } from './cli';

runCli();
