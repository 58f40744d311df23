// The worker's workflowsPath: every workflow Ferry registers.
export { migrationWorkflow } from './migration';
export { protectionWorkflow, baseBackupWorkflow } from './protection';
export { restoreWorkflow } from './restore';
