// `virsecret kmip-server --config FILE.xml [--port N]`: run our KMIP server
// (src/keystore/kmip/server.ts) in the foreground until SIGINT or SIGTERM,
// then close it gracefully and succeed. The configuration is a <kmip-server>
// document (src/xml/kmip-server.ts); relative paths in it are resolved
// against the file's directory.
import { dirname, resolve } from "node:path";
import { startKmipServer } from "../keystore/kmip/server.js";
import type { KmipServer } from "../keystore/kmip/server.js";
import { parseKmipServerXML } from "../xml/kmip-server.js";
import { readFileCapped, strerror } from "./io.js";
import type { ParsedOptions } from "./options.js";
import { errorText, fail } from "./report.js";
import type { Command, CommandContext } from "./secret-commands.js";

/** A configuration is a few hundred bytes; refuse anything absurd before parsing. */
const MAX_CONFIG_FILE = 1024 * 1024;

/** The signals that stop the server: Ctrl-C at a terminal, and service managers' stop. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

/** HOST:PORT as a client would type it (IPv6 literals in brackets). */
export function listenAddress(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** --port: vsh's strict integer, 0 (any free port) to 65535. */
function portOption(ctx: CommandContext, opts: ParsedOptions): number | undefined | false {
  const t = opts.string("port");
  if (t === undefined) return undefined;
  const n = /^[0-9]{1,5}$/.test(t) ? Number(t) : NaN;
  if (!(n >= 0 && n <= 65535)) return fail(ctx, `Numeric value '${t}' for <port> option is malformed or out of range`);
  return n;
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: "Address already in use",
  EADDRNOTAVAIL: "Cannot assign requested address",
  EACCES: "Permission denied",
  ENOTFOUND: "Name or service not known",
};

/** Why startKmipServer failed, in one line naming the file or address at fault. */
function startFailure(e: unknown, address: string): string {
  const err = e as NodeJS.ErrnoException & { cause?: unknown };
  if (err?.syscall === "listen" || err?.syscall === "getaddrinfo") {
    return `cannot listen on ${address}: ${LISTEN_ERRORS[err.code ?? ""] ?? errorText(e)}`;
  }
  if (err?.syscall !== undefined && typeof err.path === "string") return `cannot read '${err.path}': ${strerror(e)}`;
  // OpenSSL rejected the PEM material: its texts name no bytes of it
  if (typeof err?.code === "string" && err.code.startsWith("ERR_OSSL")) {
    return `the TLS certificate, key or CA is not usable: ${errorText(e)}`;
  }
  const cause = err?.cause as NodeJS.ErrnoException | undefined;
  const why = cause?.code !== undefined && STRERROR_WORTHY.has(cause.code) ? `: ${strerror(cause)}` : "";
  return errorText(e) + why;
}
/** errno codes worth appending to a wrapped error (the seal key file's) */
const STRERROR_WORTHY = new Set(["ENOENT", "EACCES", "EPERM", "EISDIR", "ENOTDIR", "ELOOP", "EROFS", "ENOSPC"]);

/**
 * Resolves when the CLI's interrupt arrives or, once `catchSignals()` has been
 * called, a stop signal. Signals are caught only while serving: until then
 * they keep their default effect, so a start-up stuck in a system call can
 * still be ended with SIGTERM.
 */
function stopRequested(interrupt: AbortSignal | undefined): { stopped: Promise<string>; catchSignals(): void; dispose(): void } {
  let done: (why: string) => void = () => {};
  const stopped = new Promise<string>((r) => (done = r));
  const onSignal = (sig: NodeJS.Signals): void => done(sig);
  // the CLI's interrupt is its SIGINT (bin/virsecret.js turns one into the other)
  const onAbort = (): void => done("SIGINT");
  if (interrupt?.aborted) done("SIGINT");
  interrupt?.addEventListener("abort", onAbort, { once: true });
  let catching = false;
  return {
    stopped,
    catchSignals() {
      catching = true;
      for (const s of STOP_SIGNALS) process.on(s, onSignal);
    },
    dispose() {
      if (catching) for (const s of STOP_SIGNALS) process.off(s, onSignal);
      interrupt?.removeEventListener("abort", onAbort);
    },
  };
}

const kmipServer: Command = {
  name: "kmip-server",
  summary: "run the KMIP key-manager server",
  description:
    "Serve KMIP over mutual TLS, configured by a <kmip-server> XML file,\n    until SIGINT or SIGTERM; then close connections and the object store.",
  options: [
    { name: "config", kind: "data", help: "<kmip-server> configuration XML file" },
    { name: "port", kind: "int", help: "listen on this port instead of the configured one (0: any free port)" },
  ],
  needsDriver: false,
  async run(ctx, opts) {
    const file = opts.string("config");
    if (file === undefined || file === "") return fail(ctx, "Failed to get option 'config': Option argument is empty");
    const port = portOption(ctx, opts);
    if (port === false) return false;

    let cfg;
    try {
      const xml = Buffer.from(await readFileCapped(file, MAX_CONFIG_FILE)).toString("utf8");
      cfg = parseKmipServerXML(xml, { docName: file, baseDir: dirname(resolve(file)) });
    } catch (e) {
      return fail(ctx, errorText(e));
    }
    if (port !== undefined) cfg = { ...cfg, port };

    const stop = stopRequested(ctx.io.interrupt);
    try {
      let server: KmipServer;
      try {
        server = await startKmipServer(cfg);
      } catch (e) {
        fail(ctx, "failed to start the KMIP server");
        return fail(ctx, startFailure(e, listenAddress(cfg.host, cfg.port)));
      }
      stop.catchSignals();
      // not quiet-able: with port 0 this line is the only way to learn the port
      ctx.io.stdout(`KMIP server listening on ${listenAddress(cfg.host, server.port)}\n`);
      const why = await stop.stopped;
      await server.close();
      if (!ctx.quiet) ctx.io.stdout(`KMIP server stopped (${why})\n`);
      return true;
    } finally {
      stop.dispose();
    }
  },
};

export const SERVER_COMMANDS: readonly Command[] = [kmipServer];
