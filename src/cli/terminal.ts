// The CLI's streams and colours: results on stdout, everything else on stderr, colour only on a TTY.
import { Chalk, type ChalkInstance } from "chalk";

export interface Terminal {
  /** Results; with --json, only the JSON document. */
  out: (text: string) => void;
  /** Progress, warnings, errors. */
  err: (text: string) => void;
  /** Colours for stdout and stderr, each decided for its own stream. */
  color: ChalkInstance;
  errColor: ChalkInstance;
  /** Columns of stdout when it is a terminal (tables fit it); null otherwise: every field is kept. */
  width: number | null;
}

type Stream = { isTTY?: boolean; columns?: number; write: (chunk: string) => unknown };

/** NO_COLOR wins, then FORCE_COLOR, then whether the stream is a terminal. */
export function colorLevel(stream: Stream, env: NodeJS.ProcessEnv = process.env): 0 | 1 | 2 | 3 {
  if (env["NO_COLOR"] !== undefined && env["NO_COLOR"] !== "") return 0;
  const force = env["FORCE_COLOR"];
  if (force !== undefined) {
    if (force === "0" || force === "false") return 0;
    const level = Number.parseInt(force, 10);
    return level >= 1 && level <= 3 ? (level as 1 | 2 | 3) : 1;
  }
  if (!stream.isTTY) return 0;
  return env["COLORTERM"] === "truecolor" ? 3 : 2;
}

export function createTerminal(stdout: Stream = process.stdout, stderr: Stream = process.stderr): Terminal {
  return {
    out: (text) => void stdout.write(text.endsWith("\n") ? text : `${text}\n`),
    err: (text) => void stderr.write(text.endsWith("\n") ? text : `${text}\n`),
    color: new Chalk({ level: colorLevel(stdout) }),
    errColor: new Chalk({ level: colorLevel(stderr) }),
    width: stdout.isTTY === true && (stdout.columns ?? 0) > 0 ? stdout.columns! : null,
  };
}
