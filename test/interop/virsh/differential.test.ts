// Differential test (issue 2, acceptance 4): real virsh 9.0 and virsecret on
// the same inputs; stdout, stderr and exit code must match byte for byte,
// after only the deviations listed in src/cli/deviations.ts.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expectSame, maskUUIDs, ours, oursRaw, virsh, virshRaw } from "./harness.js";

const FIX = fileURLToPath(new URL("../../../../shared/fixtures/libvirt/secret/secretxml2xmlin/", import.meta.url));
const OWN = fileURLToPath(new URL("../../../fixtures/secret/roundtrip/", import.meta.url));
const PUB = "0be3af32-8147-49e6-8b5c-ca39eedb8039";

describe("virsh differential: embedded secret:///embed?root=… (virsh 9.0 vs virsecret)", function () {
  this.timeout(120000);
  let work: string;
  let vUri: string;
  let oUri: string;
  const f = (name: string, content: string | Buffer): string => {
    const p = join(work, name);
    writeFileSync(p, content);
    return p;
  };
  /** Run the same argv on both sides and compare. */
  const both = async (
    args: string[],
    opts: { quiet?: boolean; deviations?: string[]; mask?: boolean } = {},
  ): Promise<void> => {
    let v = virsh(vUri, args, opts);
    let o = await ours(oUri, args, opts);
    if (opts.mask) {
      v = maskUUIDs(v);
      o = maskUUIDs(o);
    }
    expectSame(v, o, `${opts.quiet ? "-q " : ""}${args.join(" ")}`, opts.deviations ?? []);
  };

  before(() => {
    work = mkdtempSync(join(tmpdir(), "virsecret-diff-"));
    vUri = `secret:///embed?root=${join(work, "virsh")}`;
    oUri = `secret:///embed?root=${join(work, "ours")}`;
    f("v64", "aGVsbG8=\n");
    f("vplain", "hello\n");
    f("vnul", Buffer.from("a\0b", "latin1"));
    f("b1024", Buffer.alloc(1024, 0x61));
    f("big", Buffer.alloc(1025, 0x61));
    f("bad.xml", `<secret><usage type="ceph"><name>x</name></usage>`);
    f("bad2.xml", "not xml");
    f("bad3.xml", "<secret><uuid>zz</uuid></secret>");
    f("nouuid.xml", "<secret><usage type='iscsi'><target>diff-target</target></usage></secret>");
    f(
      "pub.xml",
      `<secret ephemeral='no' private='no'>\n  <uuid>${PUB}</uuid>\n  <usage type='volume'>\n    <volume>/var/lib/libvirt/images/a.img</volume>\n  </usage>\n</secret>\n`,
    );
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  describe("define and dumpxml", () => {
    for (const name of ["usage-ceph.xml", "usage-ceph-space.xml", "usage-iscsi.xml", "usage-vtpm.xml", "usage-tls.xml"]) {
      it(`secret-define ${name} (usage-tls clashes with usage-ceph's uuid)`, async () => {
        await both(["secret-define", join(FIX, name)]);
      });
    }
    it("secret-define pub.xml, --validate, --file=", async () => {
      await both(["secret-define", join(work, "pub.xml")]);
      await both(["secret-define", "--validate", join(work, "pub.xml")]);
      await both(["secret-define", `--file=${join(work, "pub.xml")}`], { quiet: true });
    });
    it("secret-dumpxml of each, canonical and lenient uuid forms", async () => {
      for (const u of [
        "f52a81b2-424e-490c-823d-6bd4235bc572",
        "f52a81b2-424e-490c-823d-6bd4235bc573",
        "27f25d34-aea6-4e2a-be85-fa2c18380be8",
        "aa6c7af2-45a7-477c-85a2-fe86d9f2514e",
        PUB,
        "0BE3AF32814749E68B5CCA39EEDB8039",
        "0b e3 af 32 81 47 49 e6 8b 5c ca 39 ee db 80 39",
      ]) {
        await both(["secret-dumpxml", u]);
      }
      await both(["secret-dumpxml", "--secret", PUB, "--wrap"]);
      await both(["secret-dumpxml", "--", PUB], { quiet: true });
    });
    it("bad XML, bad uuid element, file errors", async () => {
      for (const name of ["bad.xml", "bad2.xml", "bad3.xml"]) await both(["secret-define", join(work, name)]);
      await both(["secret-define", join(work, "missing.xml")]);
      await both(["secret-define", "--file="]);
    });
    it("generated uuid, then the usage conflict naming it (uuids masked; own roots, so lists stay comparable)", async () => {
      const root = mkdtempSync(join(work, "gen-"));
      const [vu, ou] = [`secret:///embed?root=${root}/v`, `secret:///embed?root=${root}/o`];
      const nouuid = join(work, "nouuid.xml");
      expectSame(maskUUIDs(virsh(vu, ["secret-define", nouuid])), maskUUIDs(await ours(ou, ["secret-define", nouuid])), "first define");
      // the second define names the first one's generated uuid on each side
      const v = virsh(vu, ["secret-define", nouuid]);
      const o = await ours(ou, ["secret-define", nouuid]);
      expectSame(maskUUIDs(v), maskUUIDs(o), "second define of nouuid.xml");
    });
    it("lookup errors", async () => {
      await both(["secret-dumpxml", "nonsense"]);
      await both(["secret-dumpxml", "11111111-2222-3333-4444-555555555555"]);
      await both(["secret-dumpxml", ""]);
      await both(["secret-dumpxml", PUB, "--xpath", ""], { deviations: ["xpath-empty"] });
      await both(["secret-get-value", "nonsense"]);
      await both(["secret-set-value", "nonsense", "--file", join(work, "v64")]);
    });
  });

  describe("round trip of virsecret's own libvirt-captured fixtures", () => {
    for (const name of readdirSync(OWN).filter((n) => n.endsWith(".xml"))) {
      it(name, async () => {
        const xml = readFileSync(join(OWN, name), "utf8");
        const m = /<uuid>([^<]*)<\/uuid>/.exec(xml);
        const root = mkdtempSync(join(work, "own-"));
        const v = virsh(`secret:///embed?root=${root}/v`, ["secret-define", join(OWN, name)]);
        const o = await ours(`secret:///embed?root=${root}/o`, ["secret-define", join(OWN, name)]);
        expectSame(v, o, `secret-define ${name}`);
        if (!m || v.code !== 0) return;
        const uuid = /Secret (\S+) created/.exec(v.out)![1]!;
        const vd = virsh(`secret:///embed?root=${root}/v`, ["secret-dumpxml", uuid]);
        const od = await ours(`secret:///embed?root=${root}/o`, ["secret-dumpxml", uuid]);
        expectSame(vd, od, `secret-dumpxml ${name}`);
      });
    }
  });

  describe("secret-list", () => {
    const flagSets = [
      [],
      ["--ephemeral"],
      ["--no-ephemeral"],
      ["--private"],
      ["--no-private"],
      ["--private", "--no-private"],
      ["--no-ephemeral", "--no-private"],
      ["--ephemeral", "--no-ephemeral", "--private", "--no-private"],
    ];
    for (const flags of flagSets) {
      it(`secret-list ${flags.join(" ")}`, async () => {
        await both(["secret-list", ...flags]);
        await both(["secret-list", ...flags], { quiet: true });
      });
    }
    it("empty list", async () => {
      const root = mkdtempSync(join(work, "empty-"));
      expectSame(virsh(`secret:///embed?root=${root}/v`, ["secret-list"]), await ours(`secret:///embed?root=${root}/o`, ["secret-list"]), "empty");
    });
  });

  describe("values", () => {
    it("set-value --file (base64), get-value, -q, --plain", async () => {
      await both(["secret-get-value", PUB]);
      await both(["secret-set-value", PUB, "--file", join(work, "v64")]);
      await both(["secret-get-value", PUB]);
      await both(["secret-get-value", PUB], { quiet: true });
      await both(["secret-get-value", PUB, "--plain"], { quiet: true });
    });
    it("set-value --file --plain (newline and NUL kept), 1024-byte cap", async () => {
      await both(["secret-set-value", PUB, "--file", join(work, "vplain"), "--plain"]);
      await both(["secret-get-value", PUB]);
      await both(["secret-set-value", PUB, "--file", join(work, "vnul"), "--plain"]);
      await both(["secret-get-value", PUB, "--plain"], { quiet: true });
      await both(["secret-set-value", PUB, "--file", join(work, "b1024"), "--plain"]);
      await both(["secret-set-value", PUB, "--file", join(work, "big"), "--plain"]);
      await both(["secret-set-value", PUB, "--file", join(work, "nope")]);
      await both(["secret-set-value", PUB, "--file", work]);
    });
    it("--base64 and positional value (deviation insecure-warning)", async () => {
      await both(["secret-set-value", PUB, "--base64", "d29ybGQ="], { deviations: ["insecure-warning"] });
      await both(["secret-get-value", PUB]);
      await both(["secret-set-value", PUB, "aGVsbG8="], { deviations: ["insecure-warning"] });
      await both(["secret-get-value", PUB, "--plain"]);
    });
    it("private secrets (deviation private-get-value-embedded)", async () => {
      await both(["secret-set-value", "aa6c7af2-45a7-477c-85a2-fe86d9f2514e", "--file", join(work, "v64")]);
      await both(["secret-get-value", "aa6c7af2-45a7-477c-85a2-fe86d9f2514e"], { deviations: ["private-get-value-embedded"] });
    });
    it("mutually exclusive options, missing and empty values", async () => {
      const v64 = join(work, "v64");
      for (const extra of [
        ["--file", v64, "--base64", "x"],
        ["--plain", "--base64", "x"],
        ["--interactive", "--base64", "x"],
        ["--interactive", "--plain"],
        ["--interactive", "--file", v64],
        ["--interactive", "--file", v64, "--plain", "--base64", "x"],
        ["--base64", "", "--file", v64],
        [],
        ["--base64", ""],
        ["--file", ""],
      ]) {
        await both(["secret-set-value", PUB, ...extra]);
        await both(["secret-set-value", "nonsense", ...extra]);
      }
    });
  });

  describe("-r / --readonly: a read-only connection", () => {
    it("reads work; get-value, set-value, define and undefine are refused; nothing changes", async () => {
      await both(["-r", "secret-list"]);
      await both(["--readonly", "secret-dumpxml", PUB]);
      await both(["-r", "secret-get-value", PUB]);
      await both(["--read", "secret-get-value", PUB, "--plain"], { quiet: true });
      await both(["-r", "secret-set-value", PUB, "--file", join(work, "v64")]);
      await both(["-r", "secret-define", join(work, "pub.xml")]);
      await both(["-r", "secret-undefine", PUB]);
      await both(["-r", "secret-get-value", "11111111-2222-3333-4444-555555555555"]);
      await both(["-r", "secret-event", "--list"]);
      await both(["-r", "secret-list; secret-get-value " + PUB]);
      await both(["secret-get-value", PUB]);
      for (const argv of [["--readonly=1", "secret-list"], ["-rZ", "secret-list"]]) expectSame(virshRaw(argv), await oursRaw(argv), argv.join(" "));
    });
  });

  describe("usage errors", () => {
    const cases = [
      ["secret-define"],
      ["secret-define", "--validate"],
      ["secret-define", "a", "b"],
      ["secret-define", "--file"],
      ["secret-list", "--foo"],
      ["secret-list", "extra"],
      ["secret-list", "-q"],
      ["secret-list", "--ephemeral=yes"],
      ["secret-dumpxml", "--secret"],
      ["secret-dumpxml", "--sec", PUB],
      ["secret-dumpxml", PUB, "//uuid"],
      ["secret-set-value", "--file", "x"],
      ["secret-set-value", PUB, "--secret", PUB],
      ["secret-set-value", PUB, "a", "b"],
      ["secret-get-value"],
      ["secret-get-value", PUB, "extra"],
      ["secret-undefine"],
      ["secret-undefine", "--secret"],
      ["secret-event", "--timeout", "1", "--timeout", "2"],
      ["bogus"],
    ];
    for (const args of cases) it(args.join(" "), async () => both(args));
    it("global option errors", async () => {
      for (const argv of [
        ["-c"],
        ["-Z", "secret-list"],
        ["--foo", "secret-list"],
        ["--foo=bar", "secret-list"],
        ["--quiet=1", "secret-list"],
        ["--help=x"],
        ["--conn"],
      ]) {
        const v = virshRaw(argv);
        const o = await oursRaw(argv);
        expectSame(v, o, argv.join(" "));
      }
    });
    it("long global options by prefix (getopt_long)", async () => {
      expectSame(virshRaw(["--qui", `--conn=${vUri}`, "secret-list"]), await oursRaw(["--qui", `--conn=${oUri}`, "secret-list"]), "--qui --conn=");
    });
    it("connection errors", async () => {
      for (const uri of ["secret:///embed", "secret:///embed?root=relative"]) {
        expectSame(virsh(uri, ["secret-list"]), await ours(uri, ["secret-list"]), uri);
      }
    });
    it("a one-word command line", async () => both(["secret-list --no-private"]));
    it("a command string with several commands, comments, quotes and parse errors", async () => {
      for (const line of [
        "secret-list;secret-list --private",
        `secret-dumpxml x; secret-get-value ${PUB}`,
        `secret-get-value ${PUB}; secret-dumpxml x`,
        "secret-list; secret-list --foo",
        "secret-list; bogus",
        "secret-list # a comment; secret-dumpxml x",
        `secret-list\nsecret-dumpxml '${PUB}' --xpath "//uuid"`,
        ";",
        " ",
        "#c",
        "",
        'secret-list "a',
        "secret-list a\\",
      ]) {
        await both([line]);
        await both([line], { quiet: true });
      }
    });
  });

  describe("secret-dumpxml --xpath [--wrap]", () => {
    // escaped text, a non-ASCII description, a blank description, a multi-line name
    const XP = "1be3af32-8147-49e6-8b5c-ca39eedb8039";
    const XC = "2be3af32-8147-49e6-8b5c-ca39eedb8039";
    let root: string;
    const exprs = [
      "//uuid", "//@type", "//uuid/text()", "//usage", "/secret", "//@*", "//description/text()", "//text()", "/", ".",
      "uuid", "..//uuid", "//volume/..", "//uuid|//@type", "//usage|//uuid", "//*[2]", "//*[name()=\"uuid\"]",
      "//*[@type='volume']/volume", "//node()", "/secret/uuid/following-sibling::*[1]", "//*[last()]", "(//*)[last()]/@*",
      "//volume/ancestor-or-self::node()", "//*[1][1]/..", "//uuid/text()|//usage", "//uuid/@x", "//nomatch", "//comment()",
      "//*[contains(., 'lib')]", "//*[.='   ']", "//name/text()",
      "string(//usage/@type)", "count(//*)", "1=1", "\"abc\"", "boolean(1)",
      "//[", "//uuid[", "//uuid[1", "//uuid)", "//uuid extra", "ab cd", "//uuid[]", "foo::x", "@", "\"abc", "(//uuid",
      "concat('a'", "foo()", "$x", "count()", "count(1)", "//uuid | 1", "//x:uuid", "//uuid|", "f(",
    ];
    before(() => {
      root = mkdtempSync(join(work, "xpath-"));
      f("xp.xml", `<secret ephemeral='no' private='no'>\n  <uuid>${XP}</uuid>\n  <description>Tom &amp; "Jerry" &lt;x&gt; 'q' ünï</description>\n  <usage type='volume'>\n    <volume>/var/lib/a&amp;b.img</volume>\n  </usage>\n</secret>\n`);
      f("xc.xml", `<secret private='yes'><uuid>${XC}</uuid><description>   </description><usage type='ceph'><name>x\n y\tz</name></usage></secret>`);
    });
    it("define both secrets", async () => {
      for (const name of ["xp.xml", "xc.xml"]) {
        expectSame(virsh(`secret:///embed?root=${root}/v`, ["secret-define", join(work, name)]), await ours(`secret:///embed?root=${root}/o`, ["secret-define", join(work, name)]), name);
      }
    });
    for (const id of [XP, XC]) {
      it(`every expression, with and without --wrap, on ${id.slice(0, 1)}be3…`, async () => {
        for (const x of exprs) {
          for (const wrap of [[], ["--wrap"]]) {
            const args = ["secret-dumpxml", id, "--xpath", x, ...wrap];
            expectSame(virsh(`secret:///embed?root=${root}/v`, args), await ours(`secret:///embed?root=${root}/o`, args), args.join(" "));
          }
        }
        const q = ["secret-dumpxml", id, "--xpath", "//uuid", "--wrap"];
        expectSame(virsh(`secret:///embed?root=${root}/v`, q, { quiet: true }), await ours(`secret:///embed?root=${root}/o`, q, { quiet: true }), "-q");
      });
    }
  });

  describe("secret-event", () => {
    it("--list, errors, timeout with no events", async () => {
      await both(["secret-event", "--list"]);
      await both(["secret-event", "--list", "extra"]);
      await both(["secret-event"]);
      await both(["secret-event", "lifecycle"]);
      await both(["secret-event", "--event", "foo"]);
      for (const t of ["0", "-1", "abc"]) await both(["secret-event", "--event", "lifecycle", "--timeout", t]);
      await both(["secret-event", "--event", "value-changed", "--timeout", "1"]);
      await both(["secret-event", "x", "lifecycle", "1"]);
      await both(["secret-event", "--secret", "", "--event", "lifecycle", "--timeout", "1"]);
    });
  });

  describe("help", () => {
    for (const c of ["secret-define", "secret-dumpxml", "secret-set-value", "secret-get-value", "secret-undefine", "secret-list", "secret-event", "secret"]) {
      it(`help ${c}`, async () => both(["help", c]));
    }
    it("help of an unknown command", async () => both(["help", "secret-lis"]));
  });
});
