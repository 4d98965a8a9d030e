/** Programmatic API: load a scenario, run it, format or compare results, start the lab. */
export { run, type RunOptions, type RunHooks } from './runner.js';
export { loadScenario, parseScenario, buildQuickScenario, type Scenario, type ScenarioFile } from './scenario.js';
export { RunResultSchema, SCHEMA_VERSION, type RunResult, type ProgressSnapshot } from './result.js';
export { formatRunReport } from './reporters/terminal.js';
export { formatComparison, formatConclusion, loadResultFile } from './reporters/compare.js';
export { formatJson, writeResultFile } from './reporters/json.js';
export { startLab, type Lab, type LabOptions } from './lab/lab.js';
export { ConfigError, UsageError, TargetError, ExitCode } from './errors.js';
