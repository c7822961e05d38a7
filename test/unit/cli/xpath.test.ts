// secret-dumpxml --xpath EXPR [--wrap], in-process; expected bytes are what
// virsh 9.0 printed for the same secret (captured with secret:///embed).
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, scratch } from "./run.js";

const ID = "0be3af32-8147-49e6-8b5c-ca39eedb8039";
const XML =
  `<secret ephemeral='no' private='no'>\n  <uuid>${ID}</uuid>\n` +
  `  <description>Tom &amp; "Jerry" &lt;x&gt; 'q' ünï</description>\n` +
  `  <usage type='volume'>\n    <volume>/var/lib/a&amp;b.img</volume>\n  </usage>\n</secret>\n`;
const DESC = `<description>Tom &amp; "Jerry" &lt;x&gt; 'q' ünï</description>`;
const USAGE = '<usage type="volume">\n  <volume>/var/lib/a&amp;b.img</volume>\n</usage>';

describe("cli: secret-dumpxml --xpath [--wrap]", () => {
  let dir: string;
  let cleanup: () => void;
  let uri: string;
  const x = (...args: string[]) => runCli(["-c", uri, "secret-dumpxml", ID, "--xpath", ...args]);

  before(async () => {
    ({ dir, cleanup } = scratch());
    uri = `secret:///embed?root=${join(dir, "root")}`;
    writeFileSync(join(dir, "s.xml"), XML);
    expect((await runCli(["-c", uri, "secret-define", join(dir, "s.xml")])).code).to.equal(0);
  });
  after(() => cleanup());

  const cases: [string[], string][] = [
    [["//uuid"], `<uuid>${ID}</uuid>\n`],
    [["//@type"], ' type="volume"\n'],
    [["//uuid/text()"], `${ID}\n`],
    [["//description"], `${DESC}\n`],
    [["//usage"], `${USAGE}\n`],
    [["//usage|//uuid"], `<uuid>${ID}</uuid>\n${USAGE}\n`],
    [["//@*"], ' ephemeral="no"\n private="no"\n type="volume"\n'],
    [["//text()"], `${ID}\nTom &amp; "Jerry" &lt;x&gt; 'q' ünï\n/var/lib/a&amp;b.img\n`],
    [["uuid"], `<uuid>${ID}</uuid>\n`],
    [["//nomatch"], ""],
    [["//uuid", "--wrap"], `<nodes>\n  <uuid>${ID}</uuid>\n</nodes>\n`],
    [["//uuid|//@type", "--wrap"], `<nodes type="volume">\n  <uuid>${ID}</uuid>\n</nodes>\n`],
    [["//@*", "--wrap"], '<nodes ephemeral="no" private="no" type="volume"/>\n'],
    [["//uuid/text()", "--wrap"], `<nodes>${ID}</nodes>\n`],
    [["//nomatch", "--wrap"], "<nodes/>\n"],
    [
      ["/"],
      '<?xml version="1.0" encoding="UTF-8"?>\n<secret ephemeral="no" private="no">\n' +
        `  <uuid>${ID}</uuid>\n  ${DESC}\n  <usage type="volume">\n    <volume>/var/lib/a&amp;b.img</volume>\n  </usage>\n</secret>\n\n`,
    ],
  ];
  for (const [args, out] of cases) {
    it(`--xpath ${args.join(" ")}`, async () => {
      expect(await x(...args)).to.deep.include({ code: 0, out: out + "\n", err: "" });
    });
  }

  it("a string, number or boolean result: `Incorrect xpath`, exit 1", async () => {
    for (const expr of ["string(//usage/@type)", "count(//*)", "1=1"]) {
      expect(await x(expr)).to.deep.include({ code: 1, out: "\n", err: `error: internal error: Incorrect xpath '${expr}'\n` });
    }
  });

  it("a bad expression: libxml2's report on stderr, nothing selected, exit 0", async () => {
    expect(await x("//[")).to.deep.include({ code: 0, out: "\n", err: "XPath error : Invalid expression\n//[\n  ^\n" });
    expect(await x("//uuid[1")).to.deep.include({ code: 0, out: "\n", err: "XPath error : Invalid predicate\n" });
    expect(await x("foo()", "--wrap")).to.deep.include({
      code: 0,
      out: "<nodes/>\n\n",
      err: "xmlXPathCompOpEval: function foo not found\nXPath error : Unregistered function\n",
    });
  });

  it("-q drops only the end-of-command newline", async () => {
    expect(await runCli(["-q", "-c", uri, "secret-dumpxml", ID, "--xpath", "//uuid"])).to.deep.include({
      code: 0,
      out: `<uuid>${ID}</uuid>\n`,
    });
  });
});
