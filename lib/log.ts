/**
 * A minimal logger interface so every stage can be handed the console, a silent logger in tests,
 * or a notebook display.
 *
 * @module
 */

/** Where a stage reports what it does. Messages are plain sentences; never pass secrets. */
export interface Logger {
  /** Routine progress. */
  info(message: string): void;
  /** Something went wrong but the stage carries on (a rejected row, a retry). */
  warn(message: string): void;
  /** The stage cannot go on. */
  error(message: string): void;
}

/** Logs to stderr with a level prefix, leaving stdout to a command's results. */
export const consoleLogger: Logger = {
  info: (message) => console.error(message),
  warn: (message) => console.error(`warning: ${message}`),
  error: (message) => console.error(`error: ${message}`),
};

/** Discards everything; the default for library calls that were not given a logger. */
export const silentLogger: Logger = {
  info: () => {},
  warn: () => {},
  error: () => {},
};

/** A logger that keeps every line, for tests that assert on what was reported. */
export class MemoryLogger implements Logger {
  /** Every line logged so far, prefixed with its level (`info: …`). */
  readonly lines: string[] = [];
  /** Records an info line. */
  info(message: string): void {
    this.lines.push(`info: ${message}`);
  }
  /** Records a warning line. */
  warn(message: string): void {
    this.lines.push(`warn: ${message}`);
  }
  /** Records an error line. */
  error(message: string): void {
    this.lines.push(`error: ${message}`);
  }
}
