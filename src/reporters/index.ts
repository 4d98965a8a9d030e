/** Reporters: pure `RunResult -> string` functions (plus the atomic JSON writer and result loader). */
export { createStyle, shouldUseColor, type Paint, type Style } from './style.js';
export { abFigures, formatCount, formatMs, formatRatioPct, type AbFigures } from './format.js';
export { formatRunReport, type RunReportOptions } from './terminal.js';
export { formatProgressLine, type ProgressLineOptions } from './progress.js';
export { formatJson, writeResultFile } from './json.js';
export {
  comparedRunName,
  deltaPct,
  formatComparison,
  formatConclusion,
  keptEverySession,
  loadResultFile,
  type ComparedKey,
  type ComparedRun,
  type ComparedRunJson,
  type ComparisonFormat,
  type ComparisonJson,
  type ComparisonOptions,
} from './compare.js';
