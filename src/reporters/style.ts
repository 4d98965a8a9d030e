/**
 * Styling for reporters. The color decision is made once by the caller (the CLI, from the stream and the
 * environment) and passed in, so reporters stay pure and their output is the same in tests and in a pipe.
 */
import { Chalk } from 'chalk';

/** A string transformer; the identity when color is off. */
export type Paint = (text: string) => string;

/** The handful of styles the reporters use. */
export interface Style {
  /** Whether these functions add ANSI codes. */
  readonly color: boolean;
  readonly bold: Paint;
  readonly dim: Paint;
  readonly green: Paint;
  readonly red: Paint;
  readonly yellow: Paint;
  readonly cyan: Paint;
}

/**
 * Creates the style functions. An explicit level is used so chalk's global auto-detection (which looks at
 * process.stdout and the environment) never decides for us.
 */
export function createStyle(color: boolean): Style {
  if (!color) {
    const id: Paint = (t) => t;
    return { color, bold: id, dim: id, green: id, red: id, yellow: id, cyan: id };
  }
  const c = new Chalk({ level: 1 });
  return {
    color,
    bold: (t) => c.bold(t),
    dim: (t) => c.dim(t),
    green: (t) => c.green(t),
    red: (t) => c.red(t),
    yellow: (t) => c.yellow(t),
    cyan: (t) => c.cyan(t),
  };
}

/**
 * Decides whether output to `stream` should be colored.
 *
 * Order, as Node's own `tty.getColorDepth` does it: `FORCE_COLOR` wins (`0`/`false` disables, any other
 * value including empty enables); then `NO_COLOR` with any non-empty value disables (no-color.org: "when
 * present and not an empty string"); then `TERM=dumb` disables; otherwise color only on a TTY.
 */
export function shouldUseColor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  const force = env['FORCE_COLOR'];
  if (force !== undefined) {
    const v = force.trim().toLowerCase();
    return !(v === '0' || v === 'false');
  }
  const noColor = env['NO_COLOR'];
  if (noColor !== undefined && noColor !== '') return false;
  if (env['TERM'] === 'dumb') return false;
  return stream.isTTY === true;
}

/** cli-table3 `chars` for one line per row: a rule between every row doubles a table's height for nothing. */
export const NO_ROW_SEPARATORS = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } as const;
