// The CLI's window on the world: injectable stdout/stderr/stdin (tests capture
// bytes), and file reading with virsh's caps and error texts.
import { open } from "node:fs/promises";
import { decodeBase64Strict } from "../secret/base64.js";

export interface CliIO {
  /** bytes or UTF-8 text to standard output */
  stdout(data: string | Uint8Array): void;
  stderr(data: string | Uint8Array): void;
  /** one line typed by the user (no echo on a terminal), without its newline; null at end of input */
  readSecretLine(): Promise<string | null>;
  /** aborted on SIGINT (secret-event's "event loop interrupted") */
  readonly interrupt?: AbortSignal;
  /** the clock for secret-event --timestamp */
  now?(): Date;
  /** environment for the default URI; process.env when absent */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** A file read failed: text is what virsh prints after `error: `. */
export class FileReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FileReadError";
  }
}

// strerror() texts for the errno values a file read can meet.
const STRERROR: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EISDIR: "Is a directory",
  ENOTDIR: "Not a directory",
  ELOOP: "Too many levels of symbolic links",
  ENAMETOOLONG: "File name too long",
  EOVERFLOW: "Value too large for defined data type",
  EIO: "Input/output error",
  EMFILE: "Too many open files",
  ENXIO: "No such device or address",
  ENODEV: "No such device",
};

export function strerror(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === "string" && STRERROR[code]) return STRERROR[code];
  return e instanceof Error ? e.message : String(e);
}

/**
 * virFileReadAll: at most `max` bytes; one more byte is an error
 * ("Value too large for defined data type"), as virsh reports it.
 */
export async function readFileCapped(path: string, max: number): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw new FileReadError(`Failed to open file '${path}': ${strerror(e)}`);
  }
  try {
    const buf = Buffer.alloc(max + 1);
    let got = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
      if (bytesRead === 0) break;
      got += bytesRead;
      if (got > max) throw Object.assign(new Error("too large"), { code: "EOVERFLOW" });
    }
    return new Uint8Array(buf.subarray(0, got));
  } catch (e) {
    throw new FileReadError(`Failed to read file '${path}': ${strerror(e)}`);
  } finally {
    await fh.close();
  }
}

/**
 * A value file as secret-set-value --file and key-store --file read it: its
 * bytes with `plain`, else the base64 text it holds, decoded (the read text
 * is wiped). At most `max` bytes of file.
 */
export async function readValueFile(path: string, plain: boolean, max: number): Promise<Uint8Array> {
  const raw = await readFileCapped(path, max);
  if (plain) return raw;
  try {
    return decodeBase64Strict(Buffer.from(raw).toString("latin1"), path);
  } finally {
    raw.fill(0);
  }
}

/** Read one line from process.stdin; on a terminal, without echo. */
async function readLineFromStdin(): Promise<string | null> {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  if (tty) stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string | null>((resolve, reject) => {
      let acc = "";
      const done = (v: string | null): void => {
        stdin.off("data", onData);
        stdin.off("end", onEnd);
        stdin.off("error", onErr);
        resolve(v);
      };
      const onData = (chunk: Buffer): void => {
        for (const ch of chunk.toString("utf8")) {
          // a terminal in raw mode sends CR for Enter; from a pipe, getpass keeps a CR
          if (ch === "\n" || (tty && ch === "\r")) return done(acc);
          if (tty && ch === "\u0003") return done(null); // Ctrl-C in raw mode
          if (tty && ch === "\u0004" && acc === "") return done(null);
          if (tty && (ch === "\u007f" || ch === "\b")) acc = acc.slice(0, -1);
          else acc += ch;
        }
      };
      const onEnd = (): void => done(acc === "" ? null : acc);
      const onErr = (e: Error): void => reject(e);
      stdin.on("data", onData);
      stdin.on("end", onEnd);
      stdin.on("error", onErr);
    });
  } finally {
    if (tty) {
      stdin.setRawMode(false);
      process.stdout.write("\n");
    }
    stdin.pause();
  }
}

/** The real process streams, and whether standard output's reader went away. */
export interface ProcessIO extends CliIO {
  /** a write to stdout met EPIPE (`| head`): later output was dropped */
  readonly stdoutClosed: boolean;
}

/**
 * The real process streams. Node ignores SIGPIPE, so a reader that goes away
 * shows up as an async EPIPE 'error' event, which unhandled would end the
 * process with a stack trace and skip closing the root. Here it only stops
 * further output; the command finishes and the launcher exits 141, as a
 * shell reports virsh killed by SIGPIPE.
 */
export function processIO(interrupt?: AbortSignal): ProcessIO {
  let stdoutClosed = false;
  let stderrClosed = false;
  process.stdout.on("error", () => {
    stdoutClosed = true;
  });
  process.stderr.on("error", () => {
    stderrClosed = true;
  });
  return {
    stdout: (d) => {
      if (!stdoutClosed) process.stdout.write(d);
    },
    stderr: (d) => {
      if (!stderrClosed) process.stderr.write(d);
    },
    readSecretLine: readLineFromStdin,
    ...(interrupt ? { interrupt } : {}),
    now: () => new Date(),
    env: process.env,
    get stdoutClosed() {
      return stdoutClosed;
    },
  };
}

/** In-memory streams for tests and embedding: everything written is kept as bytes. */
export class CapturedIO implements CliIO {
  private readonly out: Buffer[] = [];
  private readonly err: Buffer[] = [];
  private readonly lines: string[];
  readonly interrupt?: AbortSignal;
  readonly env: Readonly<Record<string, string | undefined>>;

  constructor(opts: { stdinLines?: string[]; interrupt?: AbortSignal; env?: Record<string, string | undefined> } = {}) {
    this.lines = [...(opts.stdinLines ?? [])];
    if (opts.interrupt) this.interrupt = opts.interrupt;
    this.env = opts.env ?? {};
  }
  stdout(d: string | Uint8Array): void {
    this.out.push(typeof d === "string" ? Buffer.from(d, "utf8") : Buffer.from(d));
  }
  stderr(d: string | Uint8Array): void {
    this.err.push(typeof d === "string" ? Buffer.from(d, "utf8") : Buffer.from(d));
  }
  async readSecretLine(): Promise<string | null> {
    return this.lines.length > 0 ? this.lines.shift()! : null;
  }
  get stdoutBytes(): Buffer {
    return Buffer.concat(this.out);
  }
  get stderrBytes(): Buffer {
    return Buffer.concat(this.err);
  }
  get stdoutText(): string {
    return this.stdoutBytes.toString("utf8");
  }
  get stderrText(): string {
    return this.stderrBytes.toString("utf8");
  }
}
