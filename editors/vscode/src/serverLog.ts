// Routes the server's stderr (tracing lines: "2026-01-01T00:00:00.000Z  INFO aiex::lsp: text")
// to the output channel at each line's own level. vscode-languageclient would log every stderr
// line as an error, so a healthy server looked broken in the Aiex output. Pure, unit-tested.

export type Level = "trace" | "debug" | "info" | "warn" | "error";

export interface LogLine {
  level: Level;
  /** The line without the timestamp and level, which the output channel adds itself. */
  text: string;
}

const TRACING = /^\S+\s+(TRACE|DEBUG|INFO|WARN|ERROR)\s+(.*)$/;

/**
 * A router for one server process: lines that carry no level (the rest of a multi-line
 * message) keep the level of the line before; a Rust panic is an error.
 */
export function createLogRouter(): (line: string) => LogLine | undefined {
  let previous: Level = "info";
  return (raw: string) => {
    const line = raw.replace(/\r$/, "");
    if (line.trim() === "") return undefined;
    const m = TRACING.exec(line);
    if (m) {
      previous = m[1].toLowerCase() as Level;
      return { level: previous, text: m[2] };
    }
    if (/^thread '.*' panicked at/.test(line)) previous = "error";
    return { level: previous, text: line };
  };
}
