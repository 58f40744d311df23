// Production workers load a prebuilt workflow bundle (FERRY_WORKFLOW_BUNDLE) instead of bundling
// workflows/ at every start; the replay test uses the same bundle as the running worker would.
import { writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const out = process.argv[2] ?? path.resolve(__dirname, '../dist/workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../workflows/index.ts') });
  await mkdir(path.dirname(out), { recursive: true });
  await writeFile(out, code);
  console.log(`workflow bundle written to ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
