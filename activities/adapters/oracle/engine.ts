// The Oracle engines as the worker registers them: 'pg-to-oracle' (DTS style) and the three
// El Carro Oracle -> Oracle flows. factory.ts builds all four from each migration's spec
// (the `oracle` block: staging, runners, DB_UNIQUE_NAMEs); see docs/oracle.md, "Workflow wiring".
export { PgToOracleEngine, type PgToOracleOptions } from './pgToOracle';
export { OracleFlowEngine, memoryVarsStore, type FlowEngineDeps, type FlowVarsStore } from './flowEngine';
export type { OracleFlow, FlowPhase, FlowStep, FlowVars, FlowRunners, Side } from './flow';
export { createOracleEngines, type OracleEngineDeps, type OracleEngines } from './factory';
