// bin/virsecret.js as a real process: the launcher, exit codes, raw bytes.
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LIBVIRT_FIXTURES, scratch } from "./run.js";

const BIN = fileURLToPath(new URL("../../../bin/virsecret.js", import.meta.url));
const TLS = "f52a81b2-424e-490c-823d-6bd4235bc572";

function virsecret(args: string[], input?: string): { code: number | null; out: Buffer; err: string } {
  const r = spawnSync(BIN, args, { input: input ?? "", env: { ...process.env, LANG: "C.UTF-8" } });
  return { code: r.status, out: r.stdout, err: r.stderr.toString("utf8") };
}

describe("cli: bin/virsecret.js as a subprocess", function () {
  this.timeout(60000);
  let dir: string;
  let cleanup: () => void;
  let uri: string;
  before(() => {
    ({ dir, cleanup } = scratch());
    uri = `secret:///embed?root=${join(dir, "root")}`;
  });
  after(() => cleanup());

  it("is executable and runs with no build step", () => {
    expect(statSync(BIN).mode & 0o111).to.not.equal(0);
    const r = virsecret(["help", "secret-undefine"]);
    expect(r.code).to.equal(0);
    expect(r.out.toString()).to.equal(
      "  NAME\n    secret-undefine - undefine a secret\n\n  SYNOPSIS\n    secret-undefine <secret>\n\n" +
        "  DESCRIPTION\n    Undefine a secret.\n\n  OPTIONS\n    [--secret] <string>  secret UUID\n\n\n",
    );
  });

  it("define, set-value from stdin (--interactive), get-value -q: exact bytes", () => {
    expect(virsecret(["-c", uri, "secret-define", join(LIBVIRT_FIXTURES, "usage-tls.xml")])).to.deep.include({
      code: 0,
      err: "",
    });
    const s = virsecret(["-c", uri, "secret-set-value", TLS, "--interactive"], "pa ss\n");
    expect(s.code).to.equal(0);
    expect(s.out.toString()).to.equal("Enter new value for secret:Secret value set\n\n");
    const g = virsecret(["-q", "-c", uri, "secret-get-value", TLS]);
    expect(g.code).to.equal(0);
    expect(g.out.equals(Buffer.from(Buffer.from("pa ss").toString("base64")))).to.equal(true);
    const p = virsecret(["-q", "-c", uri, "secret-get-value", "--plain", TLS]);
    expect(p.out.toString()).to.equal("pa ss");
  });

  it("--interactive from a pipe keeps a CR and stops at the first LF, as virsh's getpass (verified: 'a\\r\\nb' sets 'a\\r')", () => {
    expect(virsecret(["-c", uri, "secret-set-value", TLS, "--interactive"], "a\r\nb").code).to.equal(0);
    expect(virsecret(["-q", "-c", uri, "secret-get-value", "--plain", TLS]).out.toString("latin1")).to.equal("a\r");
    expect(virsecret(["-c", uri, "secret-set-value", TLS, "--interactive"], "no newline").code).to.equal(0);
    expect(virsecret(["-q", "-c", uri, "secret-get-value", "--plain", TLS]).out.toString()).to.equal("no newline");
  });

  it("usage error: exit 1, stderr only", () => {
    const r = virsecret(["-c", uri, "secret-list", "--foo"]);
    expect(r.code).to.equal(1);
    expect(r.out.length).to.equal(0);
    expect(r.err).to.equal("error: command 'secret-list' doesn't support option --foo\n");
  });

  it("runtime error: exit 1 with the blank line; value never in stderr", () => {
    const f = join(dir, "garbage");
    writeFileSync(f, "s3cr3t-garbage!!");
    const r = virsecret(["-c", uri, "secret-set-value", TLS, "--file", f]);
    expect(r.code).to.equal(1);
    expect(r.out.toString()).to.equal("\n");
    expect(r.err).to.equal(`error: invalid argument: invalid base64 in '${f}'\n`);
    expect(r.err).to.not.include("s3cr3t");
  });

  it("a reader that goes away (| head -c0) ends the command as SIGPIPE ends virsh: status 141, no stack trace, no value", async () => {
    const f = join(dir, "v");
    writeFileSync(f, Buffer.from("sekrit-value").toString("base64"));
    expect(virsecret(["-c", uri, "secret-set-value", TLS, "--file", f]).code).to.equal(0);
    const child = spawn(BIN, ["-c", uri, "secret-get-value", TLS, "--plain"], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy(); // the reader is gone before anything is written
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")));
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(err).to.equal("");
    expect(code).to.equal(141);
    // the root was closed cleanly: the next command opens it
    expect(virsecret(["-q", "-c", uri, "secret-get-value", "--plain", TLS]).out.toString()).to.equal("sekrit-value");
  });
});
