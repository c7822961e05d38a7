// `virsecret [-c URI] [-q|--quiet] [-r|--readonly] <command> [options]`: virsh's front end for
// the secret commands. Order as virsh: global options, command parse, connect,
// run, then the end-of-command blank line on stdout unless -q.
import { readFileSync } from "node:fs";
import { openSecretDriver } from "../index.js";
import type { SecretDriver } from "../index.js";
import { defaultSecretURI } from "../secret/uri.js";
import type { CliIO } from "./io.js";
import { UsageError, formatCommandHelp, parseCommandArgs, parseGlobalArgs, splitCommandLine } from "./options.js";
import type { ParsedOptions } from "./options.js";
import { errorText } from "./report.js";
import { SECRET_COMMANDS, STORE_COMMANDS } from "./secret-commands.js";
import { SERVER_COMMANDS } from "./server-commands.js";
import type { Command, CommandContext } from "./secret-commands.js";
import { VOL_COMMANDS } from "./vol-commands.js";
import { CliKeystores, KEY_COMMANDS } from "./key-commands.js";
import { MASTER_KEY_COMMANDS } from "./master-key-commands.js";

interface Group {
  readonly title: string;
  readonly keyword: string;
  readonly commands: readonly Command[];
}

const helpCommand: Command = {
  name: "help",
  summary: "print help",
  description: "Prints global help, command specific help, or help for a\n    group of related commands",
  options: [
    {
      name: "command",
      kind: "string",
      positional: true,
      help: "Prints global help, command specific help, or help for a group of related commands",
    },
  ],
  needsDriver: false,
  async run(ctx, opts) {
    const what = opts.string("command");
    // an empty name is no name, as virsh reads `help ''`
    if (what === undefined || what === "") {
      ctx.io.stdout(globalHelp());
      return true;
    }
    const cmd = findCommand(what);
    if (cmd) {
      ctx.io.stdout(formatCommandHelp(cmd));
      return true;
    }
    const group = GROUPS.find((g) => g.keyword === what);
    if (group) {
      ctx.io.stdout(groupHelp(group));
      return true;
    }
    ctx.io.stderr(`error: command or command group '${what}' doesn't exist\n`);
    return false;
  },
};

const GROUPS: readonly Group[] = [
  { title: "Secret", keyword: "secret", commands: SECRET_COMMANDS },
  { title: "Secret store", keyword: "store", commands: [...STORE_COMMANDS, ...MASTER_KEY_COMMANDS] },
  { title: "Storage Volume", keyword: "volume", commands: VOL_COMMANDS },
  { title: "Key-manager server", keyword: "server", commands: SERVER_COMMANDS },
  { title: "Keystore", keyword: "keystore", commands: KEY_COMMANDS },
  { title: "virsecret itself", keyword: "virsecret", commands: [helpCommand] },
];

function findCommand(name: string): Command | undefined {
  for (const g of GROUPS) {
    const c = g.commands.find((x) => x.name === name);
    if (c) return c;
  }
  return undefined;
}

function groupHelp(g: Group): string {
  return (
    ` ${g.title} (help keyword '${g.keyword}'):\n` +
    g.commands.map((c) => `    ${c.name.padEnd(31)}${c.summary}\n`).join("")
  );
}

function globalHelp(): string {
  return "Grouped commands:\n\n" + GROUPS.map(groupHelp).join("\n");
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}

function usage(): string {
  return (
    "\nvirsecret [options]... <command_string>\n" +
    "virsecret [options]... <command> [args...]\n\n" +
    "  options:\n" +
    "    -c | --connect=URI      secret:///embed?root=DIR (default: $VIRSECRET_DEFAULT_URI,\n" +
    "                            else /var/lib/virsecret as root, else $XDG_DATA_HOME/virsecret)\n" +
    "    -h | --help             this help\n" +
    "    -q | --quiet            quiet mode\n" +
    "    -r | --readonly         connect readonly\n" +
    "    -v                      short version\n" +
    "    -V                      long version\n" +
    "         --version[=TYPE]   version, TYPE is short or long (default short)\n\n" +
    "  commands (non interactive mode):\n\n" +
    globalHelp() +
    "\n  (specify help <group> for details about the commands in the group)\n\n" +
    "  (specify help <command> for details about the command)\n\n"
  );
}

export interface MainOptions {
  /**
   * An already open driver to run the command on (embedding, and tests that
   * watch `secret-event`); -c is then ignored and the driver is left open.
   */
  readonly driver?: SecretDriver;
}

/**
 * Run one virsecret invocation. `argv` excludes the program name. Returns the
 * exit status; everything goes through `io`, so tests capture exact bytes.
 */
export async function main(argv: readonly string[], io: CliIO, opts: MainOptions = {}): Promise<number> {
  const err = (text: string): number => {
    io.stderr(`error: ${text}\n`);
    return 1;
  };
  let global;
  try {
    global = parseGlobalArgs(argv);
  } catch (e) {
    return err(errorText(e));
  }
  if (global.help) {
    io.stdout(usage());
    return 0;
  }
  if (global.version === "short") {
    io.stdout(`${version()}\n`);
    return 0;
  }
  if (global.version === "long") {
    io.stdout(`virsecret ${version()}: virsh 9.0's secret commands on embedded secret:///embed?root=DIR roots\n`);
    return 0;
  }
  const rest = global.rest;
  if (rest.length === 0) {
    return err("no command given (virsecret has no interactive shell); see 'virsecret help'");
  }
  // One argument is a command string of its own, as virsh reads it: it may
  // hold several commands. An empty one is a parse failure without a message.
  let lines: string[][];
  if (rest.length > 1) lines = [rest];
  else if (rest[0] === "") return 1;
  else {
    try {
      lines = splitCommandLine(rest[0]!);
    } catch (e) {
      if (e instanceof UsageError) return err(e.message);
      throw e;
    }
  }
  // nothing but blanks, ';' and comments: nothing to do, as virsh
  if (lines.length === 0) return 0;
  // Every command is parsed before any runs: one bad command runs none.
  const runs: { cmd: Command; parsed: ParsedOptions }[] = [];
  for (const [name, ...args] of lines as [string, ...string[]][]) {
    const cmd = findCommand(name);
    if (!cmd) return err(`unknown command: '${name}'`);
    try {
      runs.push({ cmd, parsed: parseCommandArgs(cmd, args) });
    } catch (e) {
      if (e instanceof UsageError) return err(e.message);
      throw e;
    }
  }

  let drv: SecretDriver | undefined = opts.driver;
  const ownDriver = drv === undefined;
  // keystores that key-bound secrets name (by config file path), opened on first read
  const keystores = new CliKeystores();
  if (runs.some((r) => r.cmd.needsDriver) && drv === undefined) {
    try {
      drv = await openSecretDriver({
        uri: global.uri ?? defaultSecretURI(io.env ?? process.env),
        keystores: keystores.resolve,
        readOnly: global.readOnly,
      });
    } catch (e) {
      io.stderr("error: failed to connect to the hypervisor\n");
      return err(errorText(e));
    }
  }
  const opened = drv;
  // virsh's status is the last command's
  let ok = false;
  try {
    for (const [i, { cmd, parsed }] of runs.entries()) {
      const ctx: CommandContext = {
        io,
        quiet: global.quiet,
        keystores,
        get drv(): SecretDriver {
          if (!opened) throw new Error(`internal error: '${cmd.name}' ran without a connection`);
          return opened;
        },
      };
      try {
        ok = await cmd.run(ctx, parsed);
      } catch (e) {
        // A failure no command anticipated: still one clean error line.
        io.stderr(`error: ${errorText(e)}\n`);
        ok = false;
      }
      // the last command's blank line comes after the connection is closed
      if (i < runs.length - 1 && !global.quiet) io.stdout("\n");
    }
  } finally {
    if (opened && ownDriver) {
      try {
        await opened.close();
      } catch (e) {
        io.stderr(`error: ${errorText(e)}\n`);
        ok = false;
      }
    }
    await keystores.close();
  }
  if (!global.quiet) io.stdout("\n");
  return ok ? 0 : 1;
}
