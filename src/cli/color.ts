/**
 * ANSI colour, only for a terminal: off when the stream is not a TTY or `NO_COLOR` is set
 * (https://no-color.org); `FORCE_COLOR=1` turns it on for a pipe, `FORCE_COLOR=0` or `false` off
 * (NO_COLOR still wins).
 */
export interface Colors {
  readonly enabled: boolean;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  magenta(s: string): string;
  cyan(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
const RESET: Record<keyof typeof CODES, number> = { red: 39, green: 39, yellow: 39, blue: 39, magenta: 39, cyan: 39, dim: 22, bold: 22 };

/** Whether colour should be used on `stream`, given the environment. */
export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  // (as Node reads it: "0" and "false" turn colour off, any other value on)
  if (env.FORCE_COLOR === "0" || env.FORCE_COLOR === "false") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "") return true;
  return stream.isTTY === true && env.TERM !== "dumb";
}

/**
 * Colour functions for one output stream; identity functions when colour is off.
 *
 * @example
 * const c = createColors(process.stdout);
 * console.log(c.red("2 problems"));
 */
export function createColors(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Colors {
  const enabled = colorEnabled(stream, env);
  const paint = (name: keyof typeof CODES) => (s: string) => (enabled ? `\u001b[${CODES[name]}m${s}\u001b[${RESET[name]}m` : s);
  return {
    enabled,
    red: paint("red"),
    green: paint("green"),
    yellow: paint("yellow"),
    blue: paint("blue"),
    magenta: paint("magenta"),
    cyan: paint("cyan"),
    dim: paint("dim"),
    bold: paint("bold"),
  };
}

/** Removes ANSI colour sequences (for measuring the width of coloured text). */
export function stripAnsi(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u001b\[[0-9;]*m/g, "");
}
