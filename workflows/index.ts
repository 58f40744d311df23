// The worker's workflowsPath: every workflow Ferry registers.
export { migrationWorkflow } from './migration';
