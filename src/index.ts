/** Programmatic API: load a scenario, run it, format or compare results, start the lab. */
export { run, type RunHooks } from './engine/runner.js';
export type { RunOptions } from './engine/options.js';
export { loadScenario, parseScenario } from './scenario/load.js';
export { buildQuickScenario } from './scenario/quick.js';
export type { ScenarioFile } from './scenario/schema.js';
export type { Scenario } from './scenario/types.js';
export { RunResultSchema, SCHEMA_VERSION, type RunResult, type ProgressSnapshot } from './result/schema.js';
export { loadResultFile } from './result/load.js';
export { formatRunReport } from './reporters/terminal.js';
export { formatComparison } from './reporters/compare.js';
export { formatConclusion } from './cli/conclusions.js';
export { formatJson, writeResultFile } from './reporters/json.js';
export { startLab, type Lab, type LabOptions } from './lab/lab.js';
export { ConfigError, UsageError, TargetError, ExitCode } from './common/errors.js';
