// The CLI in-process, end to end on a real store in a temp dir. Expected texts
// are virsh 9.0's (captured), except where src/cli/deviations.ts says otherwise.
import { expect } from "chai";
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openSecretDriver } from "../../../src/index.js";
import { DEVIATIONS, deviation } from "../../../src/cli/deviations.js";
import { LIBVIRT_FIXTURES, OWN_ROUNDTRIP, runCli, scratch } from "./run.js";

const TLS = "f52a81b2-424e-490c-823d-6bd4235bc572"; // usage-tls.xml: not private
const VTPM = "aa6c7af2-45a7-477c-85a2-fe86d9f2514e"; // usage-vtpm.xml: private
const EPH = "22e1353d-c27e-4d6d-bf15-465053e6ba0b"; // ephemeral-usage-volume.xml

describe("cli: virsecret commands (in-process)", function () {
  let dir: string;
  let cleanup: () => void;
  let uri: string;
  const v = (...args: string[]) => runCli(["-c", uri, ...args]);
  const vq = (...args: string[]) => runCli(["-q", "-c", uri, ...args]);
  const file = (name: string, content: string | Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };

  beforeEach(() => {
    ({ dir, cleanup } = scratch());
    uri = `secret:///embed?root=${join(dir, "root")}`;
  });
  afterEach(() => cleanup());

  describe("round trip of libvirt's seven secretxml2xmlin fixtures", () => {
    const names = readdirSync(LIBVIRT_FIXTURES).filter((f) => f.endsWith(".xml"));
    it("there are seven", () => expect(names).to.have.length(7));
    for (const name of names) {
      it(`${name}: secret-define + secret-dumpxml give the file back byte for byte`, async () => {
        const xml = readFileSync(join(LIBVIRT_FIXTURES, name), "utf8");
        const uuid = /<uuid>([^<]+)<\/uuid>/.exec(xml)![1]!;
        const d = await v("secret-define", join(LIBVIRT_FIXTURES, name));
        expect(d).to.deep.include({ code: 0, out: `Secret ${uuid} created\n\n`, err: "" });
        // Ephemeral secrets live only as long as the process that defined them:
        // define and dump on one open driver.
        const drv = await openSecretDriver({ uri });
        try {
          await runCli(["secret-define", join(LIBVIRT_FIXTURES, name)], { driver: drv });
          const r = await runCli(["secret-dumpxml", uuid], { driver: drv });
          expect(r).to.deep.include({ code: 0, out: xml + "\n", err: "" });
        } finally {
          await drv.close();
        }
      });
    }
  });

  describe("round trip of virsecret's own libvirt-captured fixtures", () => {
    const names = readdirSync(OWN_ROUNDTRIP).filter((f) => f.endsWith(".xml"));
    for (const name of names) {
      it(name, async () => {
        const inPath = join(OWN_ROUNDTRIP, name);
        const outPath = inPath.replace(/\.xml$/, ".out");
        const want = readFileSync(existsSync(outPath) ? outPath : inPath, "utf8");
        const uuid = /<uuid>([^<]+)<\/uuid>/.exec(want)![1]!;
        expect((await v("secret-define", inPath)).code).to.equal(0);
        expect(await v("secret-dumpxml", uuid)).to.deep.include({ code: 0, out: want + "\n", err: "" });
      });
    }
  });

  describe("option errors: `error: …`, exit 1, no blank line, nothing on stdout", () => {
    const cases: [string[], string][] = [
      [["secret-define"], "command 'secret-define' requires <file> option"],
      [["secret-define", "--validate"], "command 'secret-define' requires <file> option"],
      [["secret-list", "--foo"], "command 'secret-list' doesn't support option --foo"],
      [["secret-list", "extra"], "unexpected data 'extra'"],
      [["secret-list", "-q"], "unexpected data '-q'"],
      [["secret-list", "--ephemeral=yes"], "invalid '=' after option --ephemeral"],
      [["secret-define", "a", "b"], "unexpected data 'b'"],
      [["secret-define", "--file"], "expected syntax: --file <string>"],
      [["secret-dumpxml", "--secret"], "expected syntax: --secret <string>"],
      [["secret-dumpxml", "--sec", TLS], "command 'secret-dumpxml' doesn't support option --sec"],
      [["secret-dumpxml", TLS, "//uuid"], "unexpected data '//uuid'"],
      [["secret-set-value", "--file", "f"], "command 'secret-set-value' requires <secret> option"],
      [["secret-set-value", TLS, "--secret", TLS], "option --secret already seen"],
      [["secret-set-value", TLS, "a", "b"], "unexpected data 'b'"],
      [["secret-get-value"], "command 'secret-get-value' requires <secret> option"],
      [["secret-get-value", TLS, "extra"], "unexpected data 'extra'"],
      [["secret-undefine"], "command 'secret-undefine' requires <secret> option"],
      [["secret-event", "--timeout", "1", "--timeout", "2"], "option --timeout already seen"],
      [["bogus"], "unknown command: 'bogus'"],
    ];
    for (const [args, msg] of cases) {
      it(`${args.join(" ")} → ${msg}`, async () => {
        expect(await v(...args)).to.deep.include({ code: 1, out: "", err: `error: ${msg}\n` });
      });
    }
    it("global option errors", async () => {
      expect(await runCli(["-c"])).to.deep.include({ code: 1, out: "", err: "error: option '-c'/'--connect' requires an argument\n" });
      expect(await runCli(["-Z", "secret-list"])).to.deep.include({ code: 1, err: "error: unsupported option '-Z'. See --help.\n" });
      expect(await runCli(["--foo", "secret-list"])).to.deep.include({ code: 1, err: "error: unsupported option '--foo'. See --help.\n" });
    });
    it("no command: one error line, exit 1 (no interactive shell: deviation help-scope)", async () => {
      expect(await runCli([])).to.deep.equal({
        code: 1,
        out: "",
        err: "error: no command given (virsecret has no interactive shell); see 'virsecret help'\n",
        outBytes: Buffer.alloc(0),
      });
      expect(await runCli(["-q", "-c", "secret:///embed"])).to.deep.include({ code: 1, out: "" });
    });
    it("-h / --help: the usage on stdout, exit 0, nothing else looked at", async () => {
      for (const argv of [["-h"], ["--help"], ["-h", "-Z"], ["-c", "secret:///embed", "--help", "bogus"]]) {
        const r = await runCli(argv);
        expect(r, argv.join(" ")).to.deep.include({ code: 0, err: "" });
        expect(r.out, argv.join(" ")).to.match(/^\nvirsecret \[options\]\.\.\. <command_string>\n/);
        expect(r.out).to.include("    -V                      long version\n");
        expect(r.out).to.include("    secret-get-value               Output a secret value\n");
      }
    });
    it("-v / --version: the version alone; -V / --version=long: one line naming it", async () => {
      const { version } = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as { version: string };
      for (const argv of [["-v"], ["--version"], ["--version=short"], ["-v", "-h"]]) {
        expect(await runCli(argv), argv.join(" ")).to.deep.include({ code: 0, out: `${version}\n`, err: "" });
      }
      for (const argv of [["-V"], ["--version=long"]]) {
        const r = await runCli(argv);
        expect(r, argv.join(" ")).to.deep.include({ code: 0, err: "" });
        expect(r.out).to.match(new RegExp(`^virsecret ${version.replace(/\./g, "\\.")}: [^\n]+\n$`));
      }
    });
    it("option errors come before connecting (a bad URI is not reported)", async () => {
      expect(await runCli(["-c", "secret:///embed", "secret-list", "--foo"])).to.deep.include({
        code: 1,
        err: "error: command 'secret-list' doesn't support option --foo\n",
      });
    });
  });

  describe("connection errors: two lines, exit 1, no blank line", () => {
    it("missing root", async () => {
      expect(await runCli(["-c", "secret:///embed", "secret-list"])).to.deep.include({
        code: 1,
        out: "",
        err: "error: failed to connect to the hypervisor\nerror: invalid argument: Missing URI parameter 'root'\n",
      });
    });
    it("relative root", async () => {
      expect(await runCli(["-c", "secret:///embed?root=rel", "secret-list"])).to.deep.include({
        code: 1,
        err: "error: failed to connect to the hypervisor\nerror: unsupported configuration: root path must be absolute\n",
      });
    });
  });

  describe("secret-define", () => {
    it("accepts --file=F and a redefine still says created", async () => {
      const f = join(LIBVIRT_FIXTURES, "usage-tls.xml");
      expect((await v(`--file=${f}`)).code).to.equal(1); // not a command
      expect(await v("secret-define", `--file=${f}`)).to.deep.include({ code: 0, out: `Secret ${TLS} created\n\n` });
      expect(await v("secret-define", f)).to.deep.include({ code: 0, out: `Secret ${TLS} created\n\n` });
    });
    it("file errors", async () => {
      expect(await v("secret-define", join(dir, "nope.xml"))).to.deep.include({
        code: 1,
        out: "\n",
        err: `error: Failed to open file '${join(dir, "nope.xml")}': No such file or directory\n`,
      });
      const big = file("big.xml", Buffer.alloc(10 * 1024 * 1024 + 1, 0x20));
      expect(await v("secret-define", big)).to.deep.include({
        code: 1,
        err: `error: Failed to read file '${big}': Value too large for defined data type\n`,
      });
      expect(await v("secret-define", "--file=")).to.deep.include({
        code: 1,
        out: "\n",
        err: "error: Failed to get option 'file': Option argument is empty\n",
      });
    });
    it("bad XML: two error lines naming the file as given", async () => {
      const bad = file("bad2.xml", "not xml");
      expect(await v("secret-define", bad)).to.deep.include({
        code: 1,
        out: "\n",
        err:
          `error: Failed to set attributes from ${bad}\n` +
          "error: (definition_of_secret):1: Start tag expected, '<' not found\nnot xml\n^\n",
      });
      const bad3 = file("bad3.xml", "<secret><uuid>zz</uuid></secret>");
      expect((await v("secret-define", bad3)).err).to.equal(
        `error: Failed to set attributes from ${bad3}\nerror: internal error: malformed uuid element\n`,
      );
    });
    it("usage conflict names the existing uuid", async () => {
      const f = file("n.xml", "<secret><usage type='ceph'><name>x</name></usage></secret>");
      const first = await v("secret-define", f);
      const uuid = /Secret (\S+) created/.exec(first.out)![1]!;
      expect(await v("secret-define", f)).to.deep.include({
        code: 1,
        err: `error: Failed to set attributes from ${f}\nerror: internal error: a secret with UUID ${uuid} already defined for use with x\n`,
      });
    });
    it("-q drops the blank line and the informational lines (vshPrintExtra)", async () => {
      expect(await vq("secret-define", join(LIBVIRT_FIXTURES, "usage-tls.xml"))).to.deep.include({ code: 0, out: "", err: "" });
      expect(await vq("secret-set-value", TLS, "--file", file("v", "aGk="))).to.deep.include({ code: 0, out: "", err: "" });
      expect(await vq("secret-undefine", TLS)).to.deep.include({ code: 0, out: "", err: "" });
    });
  });

  describe("secret-define DIR (deviation define-directory)", () => {
    it("applies every *.xml, reports per file, and is idempotent", async () => {
      const defs = join(dir, "defs");
      mkdirSync(defs);
      writeFileSync(join(defs, "a-tls.xml"), readFileSync(join(LIBVIRT_FIXTURES, "usage-tls.xml")));
      writeFileSync(join(defs, "b-vtpm.xml"), readFileSync(join(LIBVIRT_FIXTURES, "usage-vtpm.xml")));
      writeFileSync(join(defs, "a-tls.base64"), "aGVsbG8=\n");
      writeFileSync(join(defs, "notes.txt"), "ignored");
      const r1 = await v("secret-define", defs);
      expect(r1).to.deep.include({ code: 0, err: "" });
      expect(r1.out).to.equal(`Secret ${TLS} created\nSecret ${VTPM} created\n\n`);
      expect(await vq("secret-get-value", TLS)).to.deep.include({ code: 0, out: "aGVsbG8=" });
      const r2 = await v("secret-define", defs);
      expect(r2.out).to.equal(`Secret ${TLS} unchanged\nSecret ${VTPM} unchanged\n\n`);
      writeFileSync(join(defs, "a-tls.base64"), "d29ybGQ=");
      expect((await v("secret-define", defs)).out).to.equal(`Secret ${TLS} value set\nSecret ${VTPM} unchanged\n\n`);
      writeFileSync(
        join(defs, "b-vtpm.xml"),
        readFileSync(join(LIBVIRT_FIXTURES, "usage-vtpm.xml"), "utf8").replace("vTPM secret", "vTPM secret v2"),
      );
      expect((await v("secret-define", defs)).out).to.equal(`Secret ${TLS} unchanged\nSecret ${VTPM} updated\n\n`);
    });
    it("an error in one file: reported, the rest applied, exit 1", async () => {
      const defs = join(dir, "defs");
      mkdirSync(defs);
      writeFileSync(join(defs, "a.xml"), "not xml");
      writeFileSync(join(defs, "b.xml"), readFileSync(join(LIBVIRT_FIXTURES, "usage-tls.xml")));
      const r = await v("secret-define", defs);
      expect(r.code).to.equal(1);
      expect(r.out).to.equal(`Secret ${TLS} created\n\n`);
      expect(r.err).to.match(new RegExp(`^error: Failed to set attributes from ${join(defs, "a.xml")}\nerror: .*Start tag expected`));
    });
  });

  describe("secret-dumpxml / lookup errors", () => {
    it("malformed and unknown uuids, empty argument", async () => {
      expect(await v("secret-dumpxml", "nonsense")).to.deep.include({
        code: 1,
        out: "\n",
        err: "error: failed to get secret 'nonsense'\nerror: uuidstr in virSecretLookupByUUIDString must be a valid UUID\n",
      });
      expect(await v("secret-dumpxml", "11111111111111111111111111111111")).to.deep.include({
        code: 1,
        err:
          "error: failed to get secret '11111111111111111111111111111111'\n" +
          "error: Secret not found: no secret with matching uuid '11111111-1111-1111-1111-111111111111'\n",
      });
      expect(await v("secret-dumpxml", "")).to.deep.include({
        code: 1,
        out: "\n",
        err: "error: Failed to get option 'secret': Option argument is empty\n",
      });
    });
    it("`--` then the uuid; --wrap alone is accepted; --xpath selects nodes", async () => {
      await v("secret-define", join(LIBVIRT_FIXTURES, "usage-tls.xml"));
      const xml = readFileSync(join(LIBVIRT_FIXTURES, "usage-tls.xml"), "utf8");
      expect(await v("secret-dumpxml", "--", TLS)).to.deep.include({ code: 0, out: xml + "\n" });
      expect(await v("secret-dumpxml", TLS, "--wrap")).to.deep.include({ code: 0, out: xml + "\n" });
      expect(await v("secret-dumpxml", TLS, "--xpath", "//uuid")).to.deep.include({
        code: 0,
        out: `<uuid>${TLS}</uuid>\n\n`,
        err: "",
      });
    });
  });

  describe("secret-set-value / secret-get-value", () => {
    beforeEach(async () => {
      expect((await v("secret-define", join(LIBVIRT_FIXTURES, "usage-tls.xml"))).code).to.equal(0);
    });

    it("mutually exclusive options, in virsh's checking order, before the lookup", async () => {
      const cases: [string[], string][] = [
        [["--file", "f", "--base64", "x"], "Options --file and --base64 are mutually exclusive"],
        [["--plain", "--base64", "x"], "Options --plain and --base64 are mutually exclusive"],
        [["--interactive", "--base64", "x"], "Options --interactive and --base64 are mutually exclusive"],
        [["--interactive", "--plain"], "Options --interactive and --plain are mutually exclusive"],
        [["--interactive", "--file", "f"], "Options --interactive and --file are mutually exclusive"],
        [["--interactive", "--file", "f", "--plain", "--base64", "x"], "Options --file and --base64 are mutually exclusive"],
        [["--base64", "", "--file", "f"], "Options --file and --base64 are mutually exclusive"],
      ];
      for (const [args, msg] of cases) {
        expect(await v("secret-set-value", TLS, ...args)).to.deep.include({ code: 1, out: "\n", err: `error: ${msg}\n` });
        expect(await v("secret-set-value", "nonsense", ...args)).to.deep.include({ code: 1, err: `error: ${msg}\n` });
      }
    });

    it("lookup before the value checks; missing and empty values", async () => {
      expect((await v("secret-set-value", "nonsense")).err).to.equal(
        "error: failed to get secret 'nonsense'\nerror: uuidstr in virSecretLookupByUUIDString must be a valid UUID\n",
      );
      expect(await v("secret-set-value", TLS)).to.deep.include({ code: 1, out: "\n", err: "error: Input secret value is missing\n" });
      expect((await v("secret-set-value", TLS, "--base64", "")).err).to.equal(
        "error: Failed to get option 'base64': Option argument is empty\n",
      );
      expect((await v("secret-set-value", TLS, "--file", "")).err).to.equal(
        "error: Failed to get option 'file': Option argument is empty\n",
      );
    });

    it("no value yet", async () => {
      expect(await v("secret-get-value", TLS)).to.deep.include({
        code: 1,
        out: "\n",
        err: `error: Secret not found: secret '${TLS}' does not have a value\n`,
      });
    });

    it("--file (base64, trailing newline allowed) then get-value: base64 with no newline of its own", async () => {
      const f = file("v64", "aGVsbG8=\n");
      expect(await v("secret-set-value", TLS, "--file", f)).to.deep.include({ code: 0, out: "Secret value set\n\n", err: "" });
      expect(await v("secret-get-value", TLS)).to.deep.include({ code: 0, out: "aGVsbG8=\n", err: "" });
      expect(await vq("secret-get-value", TLS)).to.deep.include({ code: 0, out: "aGVsbG8=" });
      expect(await vq("secret-get-value", TLS, "--plain")).to.deep.include({ code: 0, out: "hello" });
    });

    it("--file --plain keeps the bytes as they are (NUL, newline)", async () => {
      const f = file("raw", Buffer.from("a\0b\n", "latin1"));
      expect((await v("secret-set-value", TLS, "--file", f, "--plain")).code).to.equal(0);
      const r = await vq("secret-get-value", TLS, "--plain");
      expect(r.outBytes.equals(Buffer.from("a\0b\n", "latin1"))).to.equal(true);
      expect((await vq("secret-get-value", TLS)).out).to.equal(Buffer.from("a\0b\n", "latin1").toString("base64"));
    });

    it("--file caps at 1024 bytes; missing file; directory", async () => {
      const ok = file("b1024", Buffer.alloc(1024, 0x61));
      expect((await v("secret-set-value", TLS, "--file", ok, "--plain")).code).to.equal(0);
      const big = file("big", Buffer.alloc(1025, 0x61));
      expect(await v("secret-set-value", TLS, "--file", big, "--plain")).to.deep.include({
        code: 1,
        out: "\n",
        err: `error: Failed to read file '${big}': Value too large for defined data type\n`,
      });
      expect((await v("secret-set-value", TLS, "--file", join(dir, "nope"))).err).to.equal(
        `error: Failed to open file '${join(dir, "nope")}': No such file or directory\n`,
      );
      expect((await v("secret-set-value", TLS, "--file", dir)).err).to.equal(`error: Failed to read file '${dir}': Is a directory\n`);
    });

    it("--base64 and positional: the insecure warning is a warning (deviation insecure-warning)", async () => {
      const warn = deviation("insecure-warning").stderrRewrite!.virsecret;
      expect(warn).to.equal("warning: Passing secret value as command-line argument is insecure!\n");
      expect(await v("secret-set-value", TLS, "--base64", "aGVsbG8=")).to.deep.include({ code: 0, out: "Secret value set\n\n", err: warn });
      expect(await v("secret-set-value", TLS, "d29ybGQ=")).to.deep.include({ code: 0, out: "Secret value set\n\n", err: warn });
      expect((await vq("secret-get-value", TLS, "--plain")).out).to.equal("world");
    });

    it("garbage base64 is refused, the old value kept, the value never echoed (deviation strict-base64)", async () => {
      await v("secret-set-value", TLS, "aGVsbG8=");
      const g = file("garb", "!!!not base64***");
      const r = await v("secret-set-value", TLS, "--file", g);
      expect(r).to.deep.include({ code: 1, out: "\n", err: `error: invalid argument: invalid base64 in '${g}'\n` });
      const r2 = await v("secret-set-value", TLS, "--base64", "aGVsbG8");
      expect(r2.code).to.equal(1);
      expect(r2.err).to.equal(
        "warning: Passing secret value as command-line argument is insecure!\nerror: invalid argument: invalid base64 in '--base64'\n",
      );
      expect(r.err + r2.err).to.not.include("not base64").and.not.include("aGVsbG8");
      expect((await vq("secret-get-value", TLS, "--plain")).out).to.equal("hello");
    });

    it("an empty value is refused and the old value kept (deviation empty-value)", async () => {
      await v("secret-set-value", TLS, "aGVsbG8=");
      const e = file("empty", "");
      const r = await v("secret-set-value", TLS, "--file", e, "--plain");
      expect(r).to.deep.include({
        code: 1,
        out: "\n",
        err: "error: Failed to set secret value\nerror: invalid argument: secret value must not be empty\n",
      });
      expect((await vq("secret-get-value", TLS, "--plain")).out).to.equal("hello");
    });

    it("--interactive: prompt on stdout, the line used raw", async () => {
      const r = await runCli(["-c", uri, "secret-set-value", TLS, "--interactive"], { stdinLines: ["s3cret"] });
      expect(r).to.deep.include({ code: 0, out: "Enter new value for secret:Secret value set\n\n", err: "" });
      expect((await vq("secret-get-value", TLS, "--plain")).out).to.equal("s3cret");
      // no input at all reads as an empty value: refused (deviation empty-value)
      const eof = await runCli(["-q", "-c", uri, "secret-set-value", TLS, "--interactive"]);
      expect(eof).to.deep.include({
        code: 1,
        out: "Enter new value for secret:",
        err: "error: Failed to set secret value\nerror: invalid argument: secret value must not be empty\n",
      });
    });

    it("private secret: value can be set, never read (Invalid secret: secret is private)", async () => {
      await v("secret-define", join(LIBVIRT_FIXTURES, "usage-vtpm.xml"));
      expect((await v("secret-set-value", VTPM, "--file", file("p", "aGVsbG8="))).code).to.equal(0);
      expect(await v("secret-get-value", VTPM)).to.deep.include({
        code: 1,
        out: "\n",
        err: "error: Invalid secret: secret is private\n",
      });
    });
  });

  describe("secret-undefine (deviation undefine-embedded: it works)", () => {
    it("echoes the argument as typed; a second undefine fails at lookup", async () => {
      await v("secret-define", join(LIBVIRT_FIXTURES, "usage-tls.xml"));
      const typed = "F52A81B2424E490C823D6BD4235BC572";
      expect(await v("secret-undefine", typed)).to.deep.include({ code: 0, out: `Secret ${typed} deleted\n\n`, err: "" });
      expect(await v("secret-undefine", typed)).to.deep.include({
        code: 1,
        out: "\n",
        err: `error: failed to get secret '${typed}'\nerror: Secret not found: no secret with matching uuid '${TLS}'\n`,
      });
    });
  });

  describe("secret-list", () => {
    it("empty list", async () => {
      expect(await v("secret-list")).to.deep.include({ code: 0, out: " UUID   Usage\n---------------\n\n", err: "" });
      expect(await vq("secret-list")).to.deep.include({ code: 0, out: "" });
    });

    it("flags filter as ListAll does; rows sorted; Unused for usage none", async () => {
      const drv = await openSecretDriver({ uri });
      try {
        for (const f of ["usage-tls.xml", "usage-vtpm.xml", "ephemeral-usage-volume.xml", "usage-iscsi.xml"]) {
          await runCli(["secret-define", join(LIBVIRT_FIXTURES, f)], { driver: drv });
        }
        await runCli(["secret-define", file("none.xml", "<secret><uuid>00000000-0000-4000-8000-000000000000</uuid></secret>")], {
          driver: drv,
        });
        const list = async (...flags: string[]) => (await runCli(["-q", "secret-list", ...flags], { driver: drv })).out;
        const row = (u: string, usage: string) => ` ${u}   ${usage}\n`;
        const ISCSI = "27f25d34-aea6-4e2a-be85-fa2c18380be8";
        // with -q the widths come from the rows only, the last column is not padded
        expect(await list()).to.equal(
          row("00000000-0000-4000-8000-000000000000", "Unused") +
            row(EPH, "volume /var/lib/libvirt/images/image.img") +
            row(ISCSI, "iscsi iscsitarget") +
            row(VTPM, "vtpm vTPMvTPMvTPM") +
            row(TLS, "tls mumblyfratz"),
        );
        expect(await list("--ephemeral")).to.equal(row(EPH, "volume /var/lib/libvirt/images/image.img"));
        expect(await list("--no-ephemeral", "--no-private")).to.equal(
          row("00000000-0000-4000-8000-000000000000", "Unused") + row(TLS, "tls mumblyfratz"),
        );
        expect(await list("--private", "--no-ephemeral")).to.equal(row(ISCSI, "iscsi iscsitarget") + row(VTPM, "vtpm vTPMvTPMvTPM"));
        expect(await list("--ephemeral", "--no-ephemeral", "--private", "--no-private")).to.equal(await list());
        const full = await runCli(["secret-list", "--private", "--no-ephemeral"], { driver: drv });
        expect(full.out).to.equal(
          ` UUID${" ".repeat(35)}Usage\n` +
            "-".repeat(39 + "iscsi iscsitarget".length + 3) +
            "\n" +
            ` ${ISCSI}   iscsi iscsitarget\n` +
            ` ${VTPM}   vtpm vTPMvTPMvTPM\n\n`,
        );
      } finally {
        await drv.close();
      }
    });
  });

  describe("secret-event", () => {
    it("--list, also with --event and extra data", async () => {
      expect(await v("secret-event", "--list")).to.deep.include({ code: 0, out: "lifecycle\nvalue-changed\n\n" });
      expect(await v("secret-event", "--list", "--event", "lifecycle")).to.deep.include({ code: 0, out: "lifecycle\nvalue-changed\n\n" });
    });
    it("errors", async () => {
      expect(await v("secret-event")).to.deep.include({ code: 1, out: "\n", err: "error: either --list or --event <type> is required\n" });
      expect(await v("secret-event", "--event", "foo")).to.deep.include({ code: 1, err: "error: unknown event type foo\n" });
      for (const t of ["0", "abc", "-1"]) {
        expect(await v("secret-event", "--event", "lifecycle", "--timeout", t)).to.deep.include({
          code: 1,
          out: "\n",
          err: `error: Numeric value '${t}' for <timeout> option is malformed or out of range\n`,
        });
      }
    });
    it("timeout with no events: exit 1, no error line; a bad --secret is reported last", async () => {
      expect(await v("secret-event", "--event", "lifecycle", "--timeout", "1")).to.deep.include({
        code: 1,
        out: "event loop timed out\nevents received: 0\n\n",
        err: "",
      });
      expect(await v("secret-event", "x", "lifecycle", "1")).to.deep.include({
        code: 1,
        out: "event loop timed out\nevents received: 0\n\n",
        err: "error: failed to get secret 'x'\nerror: uuidstr in virSecretLookupByUUIDString must be a valid UUID\n",
      });
      // verified: virsh 9.0 reports an empty --secret only at the end, with no line of its own first
      expect(await v("secret-event", "--secret", "", "--event", "lifecycle", "--timeout", "1")).to.deep.include({
        code: 1,
        out: "event loop timed out\nevents received: 0\n\n",
        err: "error: Failed to get option 'secret': Option argument is empty\n",
      });
    });
    it("interrupt", async () => {
      const ac = new AbortController();
      const p = runCli(["-c", uri, "secret-event", "--event", "value-changed", "--loop"], { interrupt: ac.signal });
      setTimeout(() => ac.abort(), 50);
      expect(await p).to.deep.include({ code: 1, out: "event loop interrupted\nevents received: 0\n\n" });
    });
    it("prints events: one-shot, --loop with --timestamp, --secret filter", async () => {
      const drv = await openSecretDriver({ uri });
      try {
        const once = runCli(["secret-event", "--event", "lifecycle"], { driver: drv });
        await runCli(["secret-define", join(LIBVIRT_FIXTURES, "usage-tls.xml")], { driver: drv });
        expect(await once).to.deep.include({ code: 0, out: `event 'lifecycle' for secret ${TLS}: Defined\nevents received: 1\n\n` });

        await runCli(["secret-define", join(LIBVIRT_FIXTURES, "usage-vtpm.xml")], { driver: drv });
        const ac = new AbortController();
        const loop = runCli(["secret-event", "--event", "value-changed", "--loop", "--timestamp", "--secret", TLS], {
          driver: drv,
          interrupt: ac.signal,
        });
        await runCli(["secret-set-value", VTPM, "aGk="], { driver: drv });
        await runCli(["secret-set-value", TLS, "aGk="], { driver: drv });
        await runCli(["secret-set-value", TLS, "aGk="], { driver: drv });
        ac.abort();
        const r = await loop;
        expect(r.code).to.equal(0);
        const ts = "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3}\\+0000: ";
        expect(r.out).to.match(
          new RegExp(`^${ts}event 'value-changed' for secret ${TLS}\n${ts}event 'value-changed' for secret ${TLS}\nevent loop interrupted\nevents received: 2\n\n$`),
        );
        const und = runCli(["secret-event", "--event", "lifecycle"], { driver: drv });
        await runCli(["secret-undefine", TLS], { driver: drv });
        expect((await und).out).to.equal(`event 'lifecycle' for secret ${TLS}: Undefined\nevents received: 1\n\n`);
      } finally {
        await drv.close();
      }
    });
  });

  describe("import-libvirt / export-libvirt / rekey", () => {
    it("export writes libvirt 9.0's layout; import restores every secret and value", async () => {
      await v("secret-define", join(LIBVIRT_FIXTURES, "usage-tls.xml"));
      await v("secret-define", join(LIBVIRT_FIXTURES, "usage-vtpm.xml"));
      await v("secret-set-value", TLS, "aGVsbG8=");
      await v("secret-set-value", VTPM, "d29ybGQ=");
      const out = join(dir, "export");
      const e = await v("export-libvirt", out);
      expect(e.code).to.equal(0);
      expect(e.out.split("\n").filter(Boolean).sort()).to.deep.equal([`Secret ${VTPM} exported with value`, `Secret ${TLS} exported with value`].sort());
      expect(readFileSync(join(out, `${TLS}.base64`), "utf8")).to.equal("aGVsbG8=");
      expect(readFileSync(join(out, `${TLS}.xml`), "utf8")).to.equal(readFileSync(join(LIBVIRT_FIXTURES, "usage-tls.xml"), "utf8"));
      expect(statSync(join(out, `${VTPM}.base64`)).mode & 0o777).to.equal(0o600);

      const uri2 = `secret:///embed?root=${join(dir, "root2")}`;
      const i = await runCli(["-c", uri2, "import-libvirt", out]);
      expect(i.code).to.equal(0);
      expect(i.out).to.include(`Secret ${TLS} imported with value from base64\n`);
      expect((await runCli(["-q", "-c", uri2, "secret-get-value", TLS])).out).to.equal("aGVsbG8=");
      expect((await runCli(["-q", "-c", uri2, "secret-dumpxml", VTPM])).out).to.equal(
        readFileSync(join(LIBVIRT_FIXTURES, "usage-vtpm.xml"), "utf8"),
      );
    });
    it("import-libvirt --key must name a 32-byte key", async () => {
      const k = file("key", Buffer.alloc(31));
      expect(await v("import-libvirt", dir, "--key", k)).to.deep.include({ code: 1, err: `error: Encryption key length must be '32' '${k}'\n` });
      expect(await v("import-libvirt")).to.deep.include({ code: 1, err: "error: command 'import-libvirt' requires <dir> option\n" });
    });
    it("rekey keeps every value readable", async () => {
      await v("secret-define", join(LIBVIRT_FIXTURES, "usage-tls.xml"));
      await v("secret-set-value", TLS, "aGVsbG8=");
      const key = join(dir, "root", "master.key");
      const before = existsSync(key) ? readFileSync(key) : undefined;
      expect(await v("rekey")).to.deep.include({ code: 0, out: "Secret store rekeyed\n\n", err: "" });
      if (before) expect(readFileSync(key).equals(before)).to.equal(false);
      expect((await vq("secret-get-value", TLS)).out).to.equal("aGVsbG8=");
    });
  });

  describe("-r / --readonly: a read-only connection (texts as virsh 9.0 -r on secret:///embed)", () => {
    const U = "0a81f5b2-8403-7b23-c8d6-21ccc2f80d6f";
    const r = (...args: string[]) => runCli(["-r", "-c", uri, ...args]);
    let xml: string;
    beforeEach(async () => {
      xml = file("s.xml", `<secret ephemeral='no' private='no'><uuid>${U}</uuid><usage type='volume'><volume>/x</volume></usage></secret>`);
      file("v64", "QUJD\n");
      expect((await v("secret-define", xml)).code).to.equal(0);
      expect((await v("secret-set-value", U, "--file", join(dir, "v64"))).code).to.equal(0);
    });
    const refused = (fn: string, first?: string) => ({
      code: 1,
      out: "\n",
      err: `${first ? `error: ${first}\n` : ""}error: operation forbidden: read only access prevents ${fn}\n`,
    });

    it("secret-get-value is refused, and no value reaches stdout", async () => {
      expect(await r("secret-get-value", U)).to.deep.include(refused("virSecretGetValue"));
      expect(await runCli(["--readonly", "-c", uri, "secret-get-value", U, "--plain"])).to.deep.include(refused("virSecretGetValue"));
    });
    it("secret-set-value, secret-define and secret-undefine are refused and change nothing", async () => {
      file("v2", "WFla\n");
      expect(await r("secret-set-value", U, "--file", join(dir, "v2"))).to.deep.include(refused("virSecretSetValue", "Failed to set secret value"));
      expect(await r("secret-undefine", U)).to.deep.include(refused("virSecretUndefine", `Failed to delete secret ${U}`));
      expect(await r("secret-define", xml)).to.deep.include(refused("virSecretDefineXML", `Failed to set attributes from ${xml}`));
      // the value set before is still there (-q: no newline after it, as virsh)
      expect(await vq("secret-get-value", U)).to.deep.include({ code: 0, out: "QUJD" });
    });
    it("secret-list, secret-dumpxml and secret-event --list work", async () => {
      expect(await r("secret-list")).to.deep.equal(await v("secret-list"));
      const dump = await r("secret-dumpxml", U);
      expect(dump).to.deep.include({ code: 0, err: "" });
      expect(dump.out).to.contain(`<uuid>${U}</uuid>`);
      expect(await r("secret-event", "--list")).to.deep.include({ code: 0, out: "lifecycle\nvalue-changed\n\n", err: "" });
    });
  });

  describe("help", () => {
    it("help <command> as virsh prints it", async () => {
      expect(await runCli(["help", "secret-define"])).to.deep.include({
        code: 0,
        out:
          "  NAME\n    secret-define - define or modify a secret from an XML file\n\n" +
          "  SYNOPSIS\n    secret-define <file> [--validate]\n\n" +
          "  DESCRIPTION\n    Define or modify a secret.\n\n" +
          "  OPTIONS\n    [--file] <string>  file containing secret attributes in XML\n" +
          "    --validate       validate the XML against the schema\n\n\n",
      });
      expect(await runCli(["help", "secret-lis"])).to.deep.include({
        code: 1,
        out: "\n",
        err: "error: command or command group 'secret-lis' doesn't exist\n",
      });
    });
    it("help '' is the global help, as virsh reads an empty name", async () => {
      const all = await runCli(["help"]);
      expect(all.out).to.match(/^Grouped commands:\n\n Secret \(help keyword 'secret'\):\n/);
      expect(await runCli(["help", ""])).to.deep.equal(all);
      expect(await runCli(["help", "--command="])).to.deep.equal(all);
    });
    it("help secret lists the group as virsh does", async () => {
      expect((await runCli(["help", "secret"])).out).to.equal(
        " Secret (help keyword 'secret'):\n" +
          "    secret-define                  define or modify a secret from an XML file\n" +
          "    secret-dumpxml                 secret attributes in XML\n" +
          "    secret-event                   Secret Events\n" +
          "    secret-get-value               Output a secret value\n" +
          "    secret-list                    list secrets\n" +
          "    secret-set-value               set a secret value\n" +
          "    secret-undefine                undefine a secret\n\n",
      );
    });
    it("a one-word command line is split as virsh does", async () => {
      expect(await runCli(["-c", uri, "secret-list --private"])).to.deep.include({ code: 0, out: " UUID   Usage\n---------------\n\n" });
    });
    it("a command string runs its commands in order, a blank line after each; the status is the last one's", async () => {
      const empty = " UUID   Usage\n---------------\n\n";
      expect(await runCli(["-c", uri, "secret-dumpxml x; secret-list"])).to.deep.include({
        code: 0,
        out: `\n${empty}`,
        err: "error: failed to get secret 'x'\nerror: uuidstr in virSecretLookupByUUIDString must be a valid UUID\n",
      });
      expect(await runCli(["-c", uri, "secret-list; secret-dumpxml x"])).to.deep.include({ code: 1, out: `${empty}\n` });
      expect(await runCli(["-q", "-c", uri, "secret-list;secret-list"])).to.deep.include({ code: 0, out: "" });
      // one bad command and none runs
      expect(await runCli(["-c", uri, "secret-list; secret-list --foo"])).to.deep.include({
        code: 1,
        out: "",
        err: "error: command 'secret-list' doesn't support option --foo\n",
      });
      expect(await runCli(["-c", uri, "secret-list; bogus"])).to.deep.include({ code: 1, out: "", err: "error: unknown command: 'bogus'\n" });
      expect(await runCli(["-c", uri, 'secret-list "a'])).to.deep.include({ code: 1, out: "", err: 'error: missing "\n' });
      // nothing to run: nothing printed, success; an empty string fails silently
      for (const line of [";", " ", "# c"]) expect(await runCli(["-c", uri, line]), line).to.deep.include({ code: 0, out: "", err: "" });
      expect(await runCli(["-c", uri, ""])).to.deep.include({ code: 1, out: "", err: "" });
    });
  });

  it("deviations: ids are unique and each entry says what virsh does and what we do", () => {
    const ids = DEVIATIONS.map((d) => d.id);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const d of DEVIATIONS) expect(d.virsh && d.virsecret && d.reason).to.be.a("string").and.not.equal("");
    expect(() => deviation("no-such")).to.throw(/unknown deviation/);
  });
});
