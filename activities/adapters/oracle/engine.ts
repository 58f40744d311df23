// The Oracle engines as the worker registers them: 'pg-to-oracle' (DTS style) and the three
// El Carro Oracle -> Oracle flows. The flow engines need per-migration settings (staging
// bucket, DB_UNIQUE_NAMEs, runner targets) that the spec does not carry yet: the caller passes
// flowFor/openRunners (see docs/oracle.md, "What the lead must wire").
export { PgToOracleEngine, type PgToOracleOptions } from './pgToOracle';
export { OracleFlowEngine, memoryVarsStore, type FlowEngineDeps, type FlowVarsStore } from './flowEngine';
export type { OracleFlow, FlowPhase, FlowStep, FlowVars, FlowRunners, Side } from './flow';
