// One command on an ssh2 channel: its output (tail kept, reading held back while the reader is
// slow), a timeout or abort that KILLs it, and an end that never waits on a node that does not answer.
import type { ClientChannel } from "ssh2";
import type ssh2 from "ssh2";
import { SshChannelError, type SshDisconnectedError, type SshEndpoint } from "./errors.js";
import { PID_MARKER_PREFIX, PidMarkerFilter } from "./pid-marker.js";
import { TailBuffer } from "./tail-buffer.js";

/**
 * Whether whoever takes a command's output keeps up (hive's stdout, say, when piped into a slow
 * program). While it is closed the command's output is not read: SSH flow control then holds
 * the command back on the node, instead of hive buffering what it prints.
 */
export interface OutputValve {
  readonly open: boolean;
  /** Resolves once it is open again. */
  whenOpen(): Promise<void>;
}

export interface ExecOptions {
  /** Sent to the command, then end of input. Without it the command sees end of input at once. */
  stdin?: string | Buffer | NodeJS.ReadableStream;
  /** Every chunk as it arrives (the result keeps only the tail). */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /** Checked after each chunk; while closed, reading stops. */
  valve?: OutputValve;
  /** Stop the command after this long: KILL it if the server allows, close its channel. */
  timeoutMs?: number;
  /** Same as a timeout, when aborted. */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** Null when the command was killed by a signal or stopped before it reported one. */
  exitCode: number | null;
  /** Signal name as Node names them (`SIGKILL`), when the command died of one. */
  signal: string | null;
  /** The last maxOutputBytes of each stream, as UTF-8. */
  stdout: string;
  stderr: string;
  /** The command was stopped by timeoutMs or the abort signal. */
  timedOut: boolean;
  /** The command was stopped by the abort signal (timedOut is then true as well). */
  aborted: boolean;
  /** Stopped, but the node never confirmed its end (it did not answer within the grace): it may still run there. */
  stopUnconfirmed?: boolean;
}

/** What a command needs of its connection. */
export interface ChannelLink {
  readonly client: InstanceType<typeof ssh2.Client>;
  readonly endpoint: SshEndpoint;
  readonly maxOutputBytes: number;
  /** Set once the connection closed or dropped. */
  closedError(): SshDisconnectedError | undefined;
  /** Hears of the connection dropping; returns the way to stop listening. */
  onDrop(listener: (error: SshDisconnectedError) => void): () => void;
}

/** How long a stopped command's channel gets to report its end before exec returns anyway. */
export const STOP_GRACE_MS = 2000;
/** How long a stop waits for a command's pid line that has not arrived yet. */
const PID_WAIT_MS = 500;

/** Runs `command` on a new channel of the connection; rejects only when the connection fails. */
export function runExecChannel(link: ChannelLink, command: string, options: ExecOptions, timeoutMs: number | undefined): Promise<ExecResult> {
  const { stdin, onStdout, onStderr, signal, valve } = options;
  const stdout = new TailBuffer(link.maxOutputBytes);
  const stderr = new TailBuffer(link.maxOutputBytes);
  let exitCode: number | null = null;
  let exitSignal: string | null = null;
  let timedOut = false;
  let aborted = false;
  let channel: ClientChannel | undefined;
  // Only a command that may be stopped announces its pid; others run exactly as given.
  const pidMarker = timeoutMs !== undefined || signal !== undefined ? new PidMarkerFilter() : undefined;
  const onStderrBytes = (chunk: Buffer): void => {
    if (chunk.length === 0) return;
    stderr.push(chunk);
    onStderr?.(chunk);
  };

  return new Promise<ExecResult>((resolve, reject) => {
    let done = false;
    let graceTimer: NodeJS.Timeout | undefined;
    let pidWait: NodeJS.Timeout | undefined;
    let stopUnlisten = (): void => {};
    const cleanup = (): void => {
      done = true;
      clearTimeout(timer);
      clearTimeout(graceTimer);
      clearTimeout(pidWait);
      signal?.removeEventListener("abort", onAbort);
      stopUnlisten();
    };
    const finish = (stopUnconfirmed = false): void => {
      if (done) return;
      if (pidMarker) onStderrBytes(pidMarker.flush());
      cleanup();
      resolve({ exitCode, signal: exitSignal, stdout: stdout.toString(), stderr: stderr.toString(), timedOut, aborted, ...(stopUnconfirmed ? { stopUnconfirmed } : {}) });
    };
    const fail = (error: Error): void => {
      if (done) return;
      cleanup();
      channel?.close();
      reject(error);
    };
    const closeChannel = (open: ClientChannel): void => {
      clearTimeout(pidWait);
      pidWait = undefined;
      if (pidMarker?.pid !== undefined) killProcessGroup(link, pidMarker.pid);
      open.close();
      graceTimer = setTimeout(() => finish(true), STOP_GRACE_MS);
    };
    const stop = (): void => {
      if (done || timedOut) return;
      timedOut = true;
      if (channel === undefined) return finish();
      sendKill(channel);
      const open = channel;
      // What it prints from now on is dropped (see the data handlers), and none of it may hold the channel's end.
      open.resume();
      open.stderr.resume();
      // The pid line may still be in flight; closing first would lose it and leave the command running.
      if (pidMarker !== undefined && pidMarker.pid === undefined) pidWait = setTimeout(() => closeChannel(open), PID_WAIT_MS);
      else closeChannel(open);
    };
    const onAbort = (): void => {
      aborted = true;
      stop();
    };
    const timer = timeoutMs === undefined ? undefined : setTimeout(stop, timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    stopUnlisten = link.onDrop((error) => fail(error));

    const opened = (error: Error | undefined, ch: ClientChannel): void => {
      if (error) {
        return fail(link.closedError() ?? new SshChannelError({ endpoint: link.endpoint, command: summarize(command), reason: error.message }, { cause: error }));
      }
      if (done) {
        // Stopped while the channel was opening: the command has started, so stop it too.
        if (timedOut && pidMarker) stopLateChannel(link, ch);
        else ch.close();
        return;
      }
      channel = ch;
      const holdBack = holdBackWhileClosed(ch, valve, () => done || timedOut);
      ch.on("data", (chunk: Buffer) => {
        // Once stopped, a flood still in flight is not worth passing on (or waiting for).
        if (timedOut) return;
        stdout.push(chunk);
        onStdout?.(chunk);
        holdBack();
      });
      ch.stderr.on("data", (chunk: Buffer) => {
        const rest = pidMarker ? pidMarker.push(chunk) : chunk;
        if (!timedOut) onStderrBytes(rest);
        if (pidWait !== undefined && pidMarker?.pid !== undefined) closeChannel(ch);
        holdBack();
      });
      ch.on("exit", (code: number | null, name?: string) => {
        if (typeof code === "number") exitCode = code;
        else if (name !== undefined) exitSignal = name;
      });
      ch.on("error", () => {
        // Reported through close; a dropped connection through onDrop.
      });
      ch.on("close", () => {
        // A channel closed without an exit status by a dropped connection is a failure, not a result.
        const dropped = link.closedError();
        if (dropped && exitCode === null && exitSignal === null && !timedOut) return fail(dropped);
        if (timedOut) return finish();
        // Output still held back for the reader is passed on before the result.
        whenDrained(ch, () => finish());
      });
      sendStdin(ch, stdin, fail);
    };
    try {
      link.client.exec(pidMarker ? PID_MARKER_PREFIX + command : command, opened);
    } catch (error) {
      fail(link.closedError() ?? new SshChannelError({ endpoint: link.endpoint, command: summarize(command), reason: (error as Error).message }, { cause: error }));
    }
  });
}

/** After each chunk: with the valve closed, stop reading both streams until it opens. */
function holdBackWhileClosed(channel: ClientChannel, valve: OutputValve | undefined, stopped: () => boolean): () => void {
  let held = false;
  return () => {
    if (valve === undefined || valve.open || held || stopped()) return;
    held = true;
    channel.pause();
    channel.stderr.pause();
    void valve.whenOpen().then(() => {
      held = false;
      channel.resume();
      channel.stderr.resume();
    });
  };
}

/** Calls `then` once both streams of a closed channel have passed on all they hold. */
function whenDrained(channel: ClientChannel, then: () => void): void {
  const streams = [channel, channel.stderr].filter((s) => !s.readableEnded);
  if (streams.length === 0) return then();
  let left = streams.length;
  for (const stream of streams) {
    stream.once("end", () => {
      left -= 1;
      if (left === 0) then();
    });
  }
}

/** KILL a stopped command's whole session from a second channel (sshd will not signal root's sessions). */
function killProcessGroup(link: ChannelLink, pid: number): void {
  try {
    link.client.exec(`kill -KILL -- -${pid} 2>/dev/null || kill -KILL ${pid} 2>/dev/null`, (error, channel) => {
      if (error) return;
      channel.on("error", () => {});
      channel.resume();
      channel.stderr.resume();
      channel.end();
    });
  } catch {
    // Not connected any more: nothing left to kill from here.
  }
}

/** Stop a command whose exec already returned: KILL, then kill its group once its pid line arrives. */
function stopLateChannel(link: ChannelLink, channel: ClientChannel): void {
  const pidMarker = new PidMarkerFilter();
  channel.on("error", () => {});
  sendKill(channel);
  const close = (): void => {
    clearTimeout(timer);
    channel.close();
  };
  const timer = setTimeout(close, PID_WAIT_MS);
  channel.resume();
  channel.stderr.on("data", (chunk: Buffer) => {
    if (pidMarker.pid !== undefined) return;
    pidMarker.push(chunk);
    if (pidMarker.pid === undefined) return;
    killProcessGroup(link, pidMarker.pid);
    close();
  });
}

/**
 * Ask sshd to KILL the command (OpenSSH honours "signal" requests since 7.9). ssh2's
 * channel.signal() sends nothing once our side has sent EOF (outgoing state "eof"), which exec
 * always does after stdin, so the request goes through ssh2's protocol object, as channel.signal()
 * itself does while the channel is open.
 */
function sendKill(channel: ClientChannel): void {
  const internal = channel as unknown as {
    type?: string;
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, name: string): void } };
  };
  try {
    const protocol = internal._client?._protocol;
    const state = internal.outgoing?.state;
    if (internal.type === "session" && (state === "open" || state === "eof") && internal.outgoing && protocol) {
      protocol.signal(internal.outgoing.id, "KILL");
    } else {
      channel.signal("KILL");
    }
  } catch {
    // The channel or connection is already closing.
  }
}

function sendStdin(channel: ClientChannel, stdin: ExecOptions["stdin"], fail: (error: Error) => void): void {
  if (stdin === undefined) {
    channel.end();
  } else if (typeof stdin === "string" || Buffer.isBuffer(stdin)) {
    channel.end(stdin);
  } else {
    stdin.on("error", (error: Error) => fail(error));
    stdin.pipe(channel);
  }
}

/** The first line of a command, shortened, for error messages. */
function summarize(command: string): string {
  const first = command.split("\n")[0] ?? "";
  return first.length > 80 || command.includes("\n") ? `${first.slice(0, 77)}...` : first;
}
