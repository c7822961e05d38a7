// vsh option parsing rules and texts (each verified against virsh 9.0).
import { expect } from "chai";
import {
  UsageError,
  formatCommandHelp,
  parseCommandArgs,
  parseGlobalArgs,
  splitCommandLine,
} from "../../../src/cli/options.js";
import type { CommandSpec } from "../../../src/cli/options.js";

const setValue: CommandSpec = {
  name: "secret-set-value",
  summary: "set a secret value",
  description: "Set a secret value.",
  options: [
    { name: "secret", kind: "data", help: "secret UUID" },
    { name: "file", kind: "string", help: "read secret from file" },
    { name: "plain", kind: "bool", help: "read the secret from file without converting from base64" },
    { name: "interactive", kind: "bool", help: "read the secret from the terminal" },
    { name: "base64", kind: "string", positional: true, help: "base64-encoded secret value" },
  ],
};

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).to.be.instanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error("expected a UsageError");
}

describe("cli/options: command arguments", () => {
  it("fills positionals in order: secret, then base64 (file is --file only)", () => {
    const o = parseCommandArgs(setValue, ["U", "aGk="]);
    expect(o.string("secret")).to.equal("U");
    expect(o.string("base64")).to.equal("aGk=");
    expect(o.has("file")).to.equal(false);
  });

  it("--opt=value and --opt value; empty value kept as given", () => {
    const o = parseCommandArgs(setValue, ["--secret=U", "--file", ""]);
    expect(o.string("secret")).to.equal("U");
    expect(o.has("file")).to.equal(true);
    expect(o.string("file")).to.equal("");
  });

  it("`--` makes the rest data; '-x' is data, not an option", () => {
    expect(parseCommandArgs(setValue, ["--", "--plain"]).string("secret")).to.equal("--plain");
    expect(usageError(() => parseCommandArgs(setValue, ["-x", "U", "B"]))).to.equal("unexpected data 'B'");
  });

  it("error texts", () => {
    expect(usageError(() => parseCommandArgs(setValue, ["--file", "f"]))).to.equal(
      "command 'secret-set-value' requires <secret> option",
    );
    expect(usageError(() => parseCommandArgs(setValue, ["U", "--foo"]))).to.equal(
      "command 'secret-set-value' doesn't support option --foo",
    );
    expect(usageError(() => parseCommandArgs(setValue, ["U", "a", "b"]))).to.equal("unexpected data 'b'");
    expect(usageError(() => parseCommandArgs(setValue, ["U", "--secret", "U"]))).to.equal("option --secret already seen");
    expect(usageError(() => parseCommandArgs(setValue, ["U", "--file"]))).to.equal("expected syntax: --file <string>");
    expect(usageError(() => parseCommandArgs(setValue, ["U", "--plain=yes"]))).to.equal("invalid '=' after option --plain");
    expect(usageError(() => parseCommandArgs(setValue, ["U", "--fil", "x"]))).to.equal(
      "command 'secret-set-value' doesn't support option --fil",
    );
  });

  it("an int option names <number> in its syntax error", () => {
    const spec: CommandSpec = {
      name: "secret-event",
      summary: "",
      description: "",
      options: [{ name: "timeout", kind: "int", help: "" }],
    };
    expect(usageError(() => parseCommandArgs(spec, ["--timeout"]))).to.equal("expected syntax: --timeout <number>");
  });
});

describe("cli/options: global arguments", () => {
  it("-c URI, --connect=URI, -qc URI, later -c wins, stops at the command", () => {
    expect(parseGlobalArgs(["-c", "u", "secret-list", "-q"])).to.deep.include({ uri: "u", quiet: false, rest: ["secret-list", "-q"] });
    expect(parseGlobalArgs(["--connect=u", "--quiet", "x"])).to.deep.include({ uri: "u", quiet: true, rest: ["x"] });
    expect(parseGlobalArgs(["-qc", "u", "x"])).to.deep.include({ uri: "u", quiet: true });
    expect(parseGlobalArgs(["-cu"])).to.deep.include({ uri: "u" });
    expect(parseGlobalArgs(["-c", "a", "-c", "b", "x"]).uri).to.equal("b");
  });

  it("long options by unambiguous prefix, as getopt_long (verified: virsh --qui, --vers, --conn=U)", () => {
    expect(parseGlobalArgs(["--conn=u", "--qui", "x"])).to.deep.include({ uri: "u", quiet: true, rest: ["x"] });
    expect(parseGlobalArgs(["--co", "u", "x"])).to.deep.include({ uri: "u", rest: ["x"] });
    expect(parseGlobalArgs(["--he"]).help).to.equal(true);
    expect(parseGlobalArgs(["--vers"]).version).to.equal("short");
  });

  it("-r / --readonly (and its prefixes, clustered with -q and -c), off by default; --readonly=X refused as '-r' (verified against virsh 9.0)", () => {
    expect(parseGlobalArgs(["-c", "u", "x"]).readOnly).to.equal(false);
    expect(parseGlobalArgs(["-r", "-c", "u", "x"])).to.deep.include({ readOnly: true, uri: "u", quiet: false, rest: ["x"] });
    expect(parseGlobalArgs(["--readonly", "x"])).to.deep.include({ readOnly: true, rest: ["x"] });
    expect(parseGlobalArgs(["--read", "x"]).readOnly).to.equal(true);
    expect(parseGlobalArgs(["--r", "x"]).readOnly).to.equal(true);
    expect(parseGlobalArgs(["-rq", "x"])).to.deep.include({ readOnly: true, quiet: true });
    expect(parseGlobalArgs(["-qrcu", "x"])).to.deep.include({ readOnly: true, quiet: true, uri: "u" });
    // after the command it is the command's argument, not a global option
    expect(parseGlobalArgs(["x", "-r"])).to.deep.include({ readOnly: false, rest: ["x", "-r"] });
    expect(usageError(() => parseGlobalArgs(["--readonly=1", "x"]))).to.equal("unsupported option '-r'. See --help.");
  });

  it("-v / --version[=short|other] short, -V / --version=long long; -h and -v end parsing where they stand", () => {
    expect(parseGlobalArgs(["-v"]).version).to.equal("short");
    expect(parseGlobalArgs(["--version"]).version).to.equal("short");
    expect(parseGlobalArgs(["--version=foo"]).version).to.equal("short");
    expect(parseGlobalArgs(["-V"]).version).to.equal("long");
    expect(parseGlobalArgs(["-qV"])).to.deep.include({ quiet: true, version: "long" });
    expect(parseGlobalArgs(["--version=long", "x"]).version).to.equal("long");
    // virsh prints help for `-h -Z` and the version for `-v -h`
    expect(parseGlobalArgs(["-h", "-Z"])).to.deep.include({ help: true, version: false });
    expect(parseGlobalArgs(["-v", "-h"])).to.deep.include({ help: false, version: "short" });
    expect(parseGlobalArgs(["-hv"])).to.deep.include({ help: true, version: false });
  });

  it("error texts", () => {
    expect(usageError(() => parseGlobalArgs(["-c"]))).to.equal("option '-c'/'--connect' requires an argument");
    expect(usageError(() => parseGlobalArgs(["--connect"]))).to.equal("option '-c'/'--connect' requires an argument");
    expect(usageError(() => parseGlobalArgs(["-Z", "x"]))).to.equal("unsupported option '-Z'. See --help.");
    expect(usageError(() => parseGlobalArgs(["--foo", "x"]))).to.equal("unsupported option '--foo'. See --help.");
    // verified against virsh 9.0: a known option with a stray argument is named by its letter, others as typed
    expect(usageError(() => parseGlobalArgs(["--foo=bar", "x"]))).to.equal("unsupported option '--foo=bar'. See --help.");
    expect(usageError(() => parseGlobalArgs(["--quiet=1", "x"]))).to.equal("unsupported option '-q'. See --help.");
    expect(usageError(() => parseGlobalArgs(["--help=x"]))).to.equal("unsupported option '-h'. See --help.");
    expect(usageError(() => parseGlobalArgs(["--conne"]))).to.equal("option '-c'/'--connect' requires an argument");
  });

  it("splits a one-word command line with quotes", () => {
    expect(splitCommandLine(`secret-define  'a b.xml' --validate`)).to.deep.equal([["secret-define", "a b.xml", "--validate"]]);
    expect(splitCommandLine(`x "q\\"r" s\\ t`)).to.deep.equal([["x", 'q"r', "s t"]]);
    expect(splitCommandLine(`x 'a\\b' "c\\d"`)).to.deep.equal([["x", "a\\b", "cd"]]);
  });

  it("splits it into commands at ';' and newlines; '#' starts a comment; empty commands vanish (vshCommandStringGetArg)", () => {
    expect(splitCommandLine("a;b")).to.deep.equal([["a"], ["b"]]);
    expect(splitCommandLine("a --x 1 ; b\nc")).to.deep.equal([["a", "--x", "1"], ["b"], ["c"]]);
    expect(splitCommandLine("a 'x;y' \"#z\"")).to.deep.equal([["a", "x;y", "#z"]]);
    expect(splitCommandLine("a # b; c\nd")).to.deep.equal([["a"], ["d"]]);
    expect(splitCommandLine("a#b")).to.deep.equal([["a#b"]]);
    expect(splitCommandLine(" ; ;\t")).to.deep.equal([]);
    expect(splitCommandLine("a \\\n b")).to.deep.equal([["a", "b"]]);
    expect(usageError(() => splitCommandLine('a "b'))).to.equal('missing "');
    expect(usageError(() => splitCommandLine("a b\\"))).to.equal("dangling \\");
  });
});

describe("cli/options: help text", () => {
  it("matches `virsh help secret-set-value` byte for byte", () => {
    expect(formatCommandHelp(setValue)).to.equal(
      "  NAME\n    secret-set-value - set a secret value\n\n" +
        "  SYNOPSIS\n    secret-set-value <secret> [--file <string>] [--plain] [--interactive] [--base64 <string>]\n\n" +
        "  DESCRIPTION\n    Set a secret value.\n\n" +
        "  OPTIONS\n" +
        "    [--secret] <string>  secret UUID\n" +
        "    --file <string>  read secret from file\n" +
        "    --plain          read the secret from file without converting from base64\n" +
        "    --interactive    read the secret from the terminal\n" +
        "    --base64 <string>  base64-encoded secret value\n\n",
    );
  });
});
