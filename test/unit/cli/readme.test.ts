// README.md's CLI reference against the CLI itself: every command the CLI has
// is documented, every documented command exists, and every option a README
// row names is one that command takes (read from `virsecret help COMMAND`).
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runCli } from "./run.js";

const README = readFileSync(fileURLToPath(new URL("../../../README.md", import.meta.url)), "utf8");

/** The command rows of the CLI section's tables: the first cell's code, e.g. `key-get ID [--plain]`. */
function documentedRows(): string[] {
  const cli = README.slice(README.indexOf("## The CLI"), README.indexOf("## The library"));
  return [...cli.matchAll(/^\| `([^`]+)`/gm)].map((m) => m[1]!);
}

/** The commands `virsecret help` lists. */
async function cliCommands(): Promise<string[]> {
  const r = await runCli(["help"]);
  expect(r.code).to.equal(0);
  return [...r.out.matchAll(/^ {4}(\S+) {2,}/gm)].map((m) => m[1]!);
}

/** The option names of one command, from its help's OPTIONS section. */
async function optionsOf(cmd: string): Promise<string[]> {
  const r = await runCli(["help", cmd]);
  expect(r.code, `help ${cmd}`).to.equal(0);
  return [...r.out.matchAll(/^ {4}\[?--([a-z0-9-]+)/gm)].map((m) => m[1]!);
}

describe("README.md: the CLI reference", () => {
  it("documents every command, and only commands that exist", async () => {
    const documented = new Set(documentedRows().map((row) => row.split(" ")[0]!));
    const actual = (await cliCommands()).filter((c) => c !== "help");
    expect(actual.length).to.be.greaterThan(20);
    expect([...actual].filter((c) => !documented.has(c)), "commands README.md does not document").to.deep.equal([]);
    expect([...documented].filter((c) => !actual.includes(c)), "README.md rows naming no command").to.deep.equal([]);
  });

  it("names only options the command takes", async () => {
    for (const row of documentedRows()) {
      const cmd = row.split(" ")[0]!;
      const takes = await optionsOf(cmd);
      for (const m of row.matchAll(/--([a-z0-9-]+)/g)) expect(takes, `${cmd} --${m[1]}`).to.include(m[1]);
    }
  });

  it("the global options it names exist", async () => {
    const usage = await runCli(["--help"]);
    expect(usage.code).to.equal(0);
    const synopsis = /^virsecret \[-c URI\].*$/m.exec(README);
    expect(synopsis, "the synopsis line").to.not.equal(null);
    for (const m of synopsis![0].matchAll(/(?<![\w-])(-[a-z]|--[a-z]+)/g)) expect(usage.out, m[1]).to.include(` ${m[1]}`);
  });
});
