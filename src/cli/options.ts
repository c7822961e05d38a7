// virsh-compatible option parsing: the global options (-c/--connect, -q/--quiet)
// and each command's options, with vsh's rules and its exact error texts.

/**
 * vsh option kinds. "data" is a required positional (VSH_OT_DATA, shown as
 * `[--name] <string>`); "string" and "int" take a value; "bool" takes none.
 */
export type OptionKind = "bool" | "string" | "int" | "data";

export interface OptionDef {
  readonly name: string;
  readonly kind: OptionKind;
  /** a string option that may also be filled positionally (vsh: no VSH_OFLAG_REQ_OPT) */
  readonly positional?: boolean;
  readonly help: string;
}

export interface CommandSpec {
  readonly name: string;
  /** one-line summary, as in `virsh help` */
  readonly summary: string;
  readonly description: string;
  readonly options: readonly OptionDef[];
}

/** A usage error: printed as `error: <message>`, exit 1, no trailing blank line. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** What the parser saw: option name → value (true for a bool). */
export class ParsedOptions {
  private readonly values = new Map<string, string | true>();

  set(name: string, value: string | true): void {
    this.values.set(name, value);
  }
  /** vshCommandOptBool: the option was given at all (even with an empty value). */
  has(name: string): boolean {
    return this.values.has(name);
  }
  /** The raw string value, or undefined when absent (or a bool). */
  string(name: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === "string" ? v : undefined;
  }
}

function isPositional(o: OptionDef): boolean {
  return o.kind === "data" || (o.kind !== "bool" && o.positional === true);
}

function typeLabel(o: OptionDef): string {
  return o.kind === "int" ? "number" : "string";
}

/** Parse one command's arguments exactly as vshCommandParse does. */
export function parseCommandArgs(spec: CommandSpec, args: readonly string[]): ParsedOptions {
  const out = new ParsedOptions();
  let dataOnly = false;
  for (let i = 0; i < args.length; i++) {
    const tok = args[i]!;
    if (dataOnly || !tok.startsWith("--")) {
      // Positional data fills the first positional-capable option not yet seen.
      const target = spec.options.find((o) => isPositional(o) && !out.has(o.name));
      if (!target) throw new UsageError(`unexpected data '${tok}'`);
      out.set(target.name, tok);
      continue;
    }
    if (tok === "--") {
      dataOnly = true;
      continue;
    }
    const body = tok.slice(2);
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const inline = eq >= 0 ? body.slice(eq + 1) : undefined;
    const opt = spec.options.find((o) => o.name === name);
    if (!opt) throw new UsageError(`command '${spec.name}' doesn't support option --${name}`);
    if (out.has(opt.name)) throw new UsageError(`option --${opt.name} already seen`);
    if (opt.kind === "bool") {
      if (inline !== undefined) throw new UsageError(`invalid '=' after option --${opt.name}`);
      out.set(opt.name, true);
      continue;
    }
    if (inline !== undefined) {
      out.set(opt.name, inline);
      continue;
    }
    const next = args[i + 1];
    if (next === undefined) throw new UsageError(`expected syntax: --${opt.name} <${typeLabel(opt)}>`);
    out.set(opt.name, next);
    i++;
  }
  for (const o of spec.options) {
    if (o.kind === "data" && !out.has(o.name)) {
      throw new UsageError(`command '${spec.name}' requires <${o.name}> option`);
    }
  }
  return out;
}

export interface GlobalOptions {
  uri?: string;
  quiet: boolean;
  /** -r, --readonly: open the connection read-only, as virsh's virConnectOpenReadOnly */
  readOnly: boolean;
  /** print the version (-v, --version[=short]; -V, --version=long) and stop */
  version: false | "short" | "long";
  /** print the global help and stop */
  help: boolean;
  /** command name and its arguments; empty when no command was given */
  rest: string[];
}

/** virsecret's long global options: virsh's, less those it has no use for. */
const LONG_OPTIONS = ["connect", "help", "quiet", "readonly", "version"] as const;

/**
 * Parse virsh's global options (getopt_long with "+": option parsing stops at
 * the first non-option, which is the command). virsh acts on -h and -v as
 * getopt meets them, so whatever follows one is not looked at.
 */
export function parseGlobalArgs(argv: readonly string[]): GlobalOptions {
  const g: GlobalOptions = { quiet: false, readOnly: false, version: false, help: false, rest: [] };
  const needUri = (): never => {
    throw new UsageError("option '-c'/'--connect' requires an argument");
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      i++;
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const typed = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      // getopt_long takes any unambiguous prefix (--conn, --qui)
      const name = typed === "" ? undefined : LONG_OPTIONS.find((o) => o.startsWith(typed));
      // getopt's complaint names a known option by its short letter, anything else as typed
      // (every long option's first letter is its short one, --readonly's too)
      if (name === undefined) throw new UsageError(`unsupported option '${a}'. See --help.`);
      if (name === "connect") {
        if (eq >= 0) g.uri = a.slice(eq + 1);
        else if (i + 1 < argv.length) g.uri = argv[++i]!;
        else needUri();
        continue;
      }
      // getopt's optional argument: only `--version=TYPE`; anything but "long" is short, as virsh
      if (name === "version") return { ...g, version: eq >= 0 && a.slice(eq + 1) === "long" ? "long" : "short" };
      if (eq >= 0) throw new UsageError(`unsupported option '-${name[0]}'. See --help.`);
      if (name === "help") return { ...g, help: true };
      if (name === "readonly") g.readOnly = true;
      else g.quiet = true;
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      // Clustered short options, as getopt: -qc URI, -cURI.
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        if (c === "q") g.quiet = true;
        else if (c === "r") g.readOnly = true;
        else if (c === "h") return { ...g, help: true };
        else if (c === "v") return { ...g, version: "short" };
        else if (c === "V") return { ...g, version: "long" };
        else if (c === "c") {
          if (j + 1 < a.length) g.uri = a.slice(j + 1);
          else if (i + 1 < argv.length) g.uri = argv[++i]!;
          else needUri();
          break;
        } else throw new UsageError(`unsupported option '-${c}'. See --help.`);
      }
      continue;
    }
    break;
  }
  g.rest = argv.slice(i);
  return g;
}

/**
 * vsh's whole-line form: a single argument after the global options is a
 * command string of its own (`virsh 'secret-list --private; secret-list'`).
 * Split as vshCommandStringGetArg does: blanks separate words, `;` or a
 * newline ends a command, a word starting with `#` comments out the rest of
 * the line; single quotes are literal, double quotes and bare text take
 * backslash escapes, backslash-newline vanishes. Empty commands are dropped.
 */
export function splitCommandLine(line: string): string[][] {
  const commands: string[][] = [];
  let words: string[] = [];
  const endCommand = (): void => {
    if (words.length > 0) commands.push(words);
    words = [];
  };
  let i = 0;
  const blank = (c: string | undefined): boolean => c === " " || c === "\t";
  while (i < line.length) {
    const c = line[i]!;
    if (blank(c)) {
      i++;
      continue;
    }
    if (c === "\\" && line[i + 1] === "\n") {
      i += 2;
      continue;
    }
    if (c === ";" || c === "\n") {
      endCommand();
      i++;
      continue;
    }
    if (c === "#") {
      while (i < line.length && line[i] !== "\n") i++;
      endCommand();
      i++;
      continue;
    }
    let word = "";
    let single = false;
    let double = false;
    for (; i < line.length; i++) {
      const d = line[i]!;
      if (!single && !double && (blank(d) || d === ";" || d === "\n")) break;
      if (!double && d === "'") single = !single;
      else if (!single && d === '"') double = !double;
      else if (!single && d === "\\") {
        i++;
        if (i === line.length) throw new UsageError("dangling \\");
        if (line[i] !== "\n") word += line[i]!;
      } else word += d;
    }
    if (double) throw new UsageError('missing "');
    words.push(word);
  }
  endCommand();
  return commands;
}

/** The `virsh help <command>` text for one command, byte for byte. */
export function formatCommandHelp(spec: CommandSpec): string {
  const syn = spec.options
    .map((o) => {
      if (o.kind === "data") return `<${o.name}>`;
      if (o.kind === "bool") return `[--${o.name}]`;
      return `[--${o.name} <${typeLabel(o)}>]`;
    })
    .join(" ");
  let s = `  NAME\n    ${spec.name} - ${spec.summary}\n\n  SYNOPSIS\n    ${spec.name}${syn ? " " + syn : ""}\n\n`;
  s += `  DESCRIPTION\n    ${spec.description}\n\n`;
  if (spec.options.length > 0) {
    s += "  OPTIONS\n";
    for (const o of spec.options) {
      const left =
        o.kind === "data" ? `[--${o.name}] <string>` : o.kind === "bool" ? `--${o.name}` : `--${o.name} <${typeLabel(o)}>`;
      s += `    ${left.padEnd(15)}  ${o.help}\n`;
    }
    s += "\n";
  }
  return s;
}
