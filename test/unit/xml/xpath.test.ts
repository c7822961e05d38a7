// XPath 1.0 evaluator (src/xml/xpath.ts) and libxml2-style node dumps
// (src/xml/xpath-dump.ts). Expected dumps and error texts are what virsh 9.0
// (libxml2 2.9.14) printed for the same document and expression.
import { expect } from "chai";
import { isVirError } from "../../../src/errors.js";
import { readXML } from "../../../src/xml/read.js";
import {
  compileXPath,
  evaluateXPath,
  numberToString,
  selectNodes,
  stringValue,
  xpathDocument,
  XPathError,
  type XPathNode,
} from "../../../src/xml/xpath.js";
import { dumpNode, dumpWrapped, formatXPathResult } from "../../../src/xml/xpath-dump.js";

const XML =
  "<secret ephemeral='no' private='no'>\n" +
  "  <uuid>0be3af32-8147-49e6-8b5c-ca39eedb8039</uuid>\n" +
  "  <description>Tom &amp; \"Jerry\" &lt;x&gt; 'q' ünï</description>\n" +
  "  <usage type='volume'>\n" +
  "    <volume>/var/lib/a&amp;b.img</volume>\n" +
  "  </usage>\n" +
  "</secret>\n";
const UUID = "0be3af32-8147-49e6-8b5c-ca39eedb8039";

/** A short label per node, to compare selections. */
function label(n: XPathNode): string {
  switch (n.kind) {
    case "document":
      return "/";
    case "element":
      return n.name;
    case "attribute":
      return "@" + n.name;
    case "text":
      return "text:" + n.value;
  }
}

describe("xml/xpath: evaluator", () => {
  const root = readXML(XML);
  const sel = (expr: string): string[] => selectNodes(expr, root).map(label);
  const val = (expr: string) => evaluateXPath(expr, xpathDocument(root).children[0]!);

  it("blank text between elements is no node; a leaf's text is one node", () => {
    const doc = xpathDocument(root);
    const secret = doc.children[0]!;
    expect(secret.children.map(label)).to.deep.equal(["uuid", "description", "usage"]);
    expect(secret.children[0]!.kind === "element" && secret.children[0].children.map(label)).to.deep.equal([`text:${UUID}`]);
    expect(stringValue(secret)).to.equal(`${UUID}Tom & "Jerry" <x> 'q' ünï/var/lib/a&b.img`);
    const empty = xpathDocument(readXML("<a><b></b><c>  </c></a>"));
    expect(selectNodes("//text()", empty).map(label)).to.deep.equal(["text:  "]);
  });

  it("absolute and relative paths, //, ., .., *, the root element as context", () => {
    expect(sel("//uuid")).to.deep.equal(["uuid"]);
    expect(sel("/secret/usage/volume")).to.deep.equal(["volume"]);
    expect(sel("uuid")).to.deep.equal(["uuid"]);
    expect(sel("./usage/volume")).to.deep.equal(["volume"]);
    expect(sel(".")).to.deep.equal(["secret"]);
    expect(sel("/")).to.deep.equal(["/"]);
    expect(sel("..")).to.deep.equal(["/"]);
    expect(sel("//volume/..")).to.deep.equal(["usage"]);
    expect(sel("..//uuid")).to.deep.equal(["uuid"]);
    expect(sel("/*/*")).to.deep.equal(["uuid", "description", "usage"]);
    expect(sel("//*")).to.deep.equal(["secret", "uuid", "description", "usage", "volume"]);
    expect(sel("//nomatch")).to.deep.equal([]);
    expect(sel("   //uuid  ")).to.deep.equal(["uuid"]);
  });

  it("attributes, text() and node(), in document order without duplicates", () => {
    expect(sel("//@*")).to.deep.equal(["@ephemeral", "@private", "@type"]);
    expect(sel("//@type")).to.deep.equal(["@type"]);
    expect(sel("/secret/@private")).to.deep.equal(["@private"]);
    expect(sel("//uuid/@x")).to.deep.equal([]);
    expect(sel("//uuid/text()")).to.deep.equal([`text:${UUID}`]);
    // the document node itself is not selected: // goes below it
    expect(sel("//node()")).to.deep.equal([
      "secret", "uuid", `text:${UUID}`, "description", `text:Tom & "Jerry" <x> 'q' ünï`, "usage", "volume", "text:/var/lib/a&b.img",
    ]);
    expect(sel("//usage | //uuid | //usage")).to.deep.equal(["uuid", "usage"]);
    expect(sel("//uuid | //usage/@type")).to.deep.equal(["uuid", "@type"]);
    expect(sel("//@*[name()='type']/..")).to.deep.equal(["usage"]);
  });

  it("predicates: positions, last(), attribute values, boolean and string tests", () => {
    expect(sel("//*[2]")).to.deep.equal(["description"]);
    expect(sel("/secret/*[last()]")).to.deep.equal(["usage"]);
    expect(sel("(//*)[last()]")).to.deep.equal(["volume"]);
    expect(sel("(//*)[2]")).to.deep.equal(["uuid"]);
    expect(sel("//*[1.5]")).to.deep.equal([]);
    expect(sel("//*[position()>1 and position()<3]")).to.deep.equal(["description"]);
    expect(sel("//*[@type='volume']/volume")).to.deep.equal(["volume"]);
    expect(sel("//*[@type=\"ceph\"]")).to.deep.equal([]);
    expect(sel("/secret[@ephemeral='no'][@private='no']/usage")).to.deep.equal(["usage"]);
    expect(sel("//*[@*]")).to.deep.equal(["secret", "usage"]);
    expect(sel("//*[contains(., 'lib')]")).to.deep.equal(["secret", "usage", "volume"]);
    expect(sel("//*[starts-with(name(),'u')]")).to.deep.equal(["uuid", "usage"]);
    expect(sel("//*[not(*)]/text()").length).to.equal(3);
    expect(sel("//*[count(*)=1]")).to.deep.equal(["usage"]);
    expect(sel("//*[translate(name(),'u','U')='UUid']")).to.deep.equal(["uuid"]);
  });

  it("axes: reverse axes count positions from the context node outwards", () => {
    expect(sel("//volume/ancestor::*")).to.deep.equal(["secret", "usage"]);
    expect(sel("//volume/ancestor::*[1]")).to.deep.equal(["usage"]);
    expect(sel("/secret/uuid/following-sibling::*[1]")).to.deep.equal(["description"]);
    expect(sel("/secret/usage/preceding-sibling::*[1]")).to.deep.equal(["description"]);
    expect(sel("//volume/preceding::*")).to.deep.equal(["uuid", "description"]);
    expect(sel("//uuid/following::*")).to.deep.equal(["description", "usage", "volume"]);
    expect(sel("/descendant::*[3]")).to.deep.equal(["description"]);
    expect(sel("self::secret")).to.deep.equal(["secret"]);
    expect(sel("//uuid/namespace::*")).to.deep.equal([]);
  });

  it("values: strings, numbers, booleans, core functions", () => {
    expect(val("string(//usage/@type)")).to.equal("volume");
    expect(val("count(//*)")).to.equal(5);
    expect(val("1 + 2 * 3 - 4 div 2 mod 3")).to.equal(5);
    expect(val("-(2)")).to.equal(-2);
    expect(val("concat('a', 1, true())")).to.equal("a1true");
    expect(val("substring('12345', 1.5, 2.6)")).to.equal("234");
    expect(val("substring-before('a-b', '-')")).to.equal("a");
    expect(val("substring-after('a-b', '-')")).to.equal("b");
    expect(val("normalize-space('  a \n b ')")).to.equal("a b");
    expect(val("string-length('ünï')")).to.equal(3);
    expect(val("round(2.5) + floor(1.5) + ceiling(0.5)")).to.equal(5);
    expect(val("number(' 2 ') = 2 and 'a' != 'b' and 1 < 2 and not(false())")).to.equal(true);
    expect(val("//uuid = '" + UUID + "'")).to.equal(true);
    expect(val("local-name(/*)")).to.equal("secret");
    expect(numberToString(1 / 3)).to.equal("0.333333333333333");
    expect(numberToString(NaN)).to.equal("NaN");
    expect(numberToString(-0)).to.equal("0");
  });

  it("a non-node-set result is `Incorrect xpath '<expr>'` (INTERNAL_ERROR)", () => {
    for (const expr of ["string(//usage/@type)", "count(//*)", "1=1", "boolean(1)", '"abc"', "string("]) {
      let err: unknown;
      try {
        selectNodes(expr, root);
      } catch (e) {
        err = e;
      }
      expect(isVirError(err, "INTERNAL_ERROR"), expr).to.equal(true);
      expect((err as Error).message).to.equal(`internal error: Incorrect xpath '${expr}'`);
    }
  });

  it("syntax errors carry libxml2's message and caret position", () => {
    const cases: [string, string, number | undefined, string][] = [
      ["//[", "Invalid expression", 2, "XPath error : Invalid expression\n//[\n  ^\n"],
      ["//uuid[", "Invalid expression", 7, "XPath error : Invalid expression\n"],
      ["//uuid[1", "Invalid predicate", 8, "XPath error : Invalid predicate\n"],
      ["//uuid)", "Invalid expression", 6, "XPath error : Invalid expression\n//uuid)\n      ^\n"],
      ["ab cd", "Invalid expression", 3, "XPath error : Invalid expression\nab cd\n   ^\n"],
      ["//uuid[]", "Invalid expression", 7, "XPath error : Invalid expression\n//uuid[]\n       ^\n"],
      ["foo::x", "Invalid expression", 4, "XPath error : Invalid expression\nfoo::x\n    ^\n"],
      ["//uuid[@a=\"x", "Unfinished literal", 12, "XPath error : Unfinished literal\n"],
      ["(//uuid", "Invalid expression", 7, "XPath error : Invalid expression\n"],
      ["concat('a'", "Invalid expression", 10, "XPath error : Invalid expression\n"],
    ];
    for (const [expr, reason, pos, report] of cases) {
      let err: unknown;
      try {
        compileXPath(expr);
      } catch (e) {
        err = e;
      }
      expect(err, expr).to.be.instanceOf(XPathError);
      const x = err as XPathError;
      expect([x.reason, x.position, x.report], expr).to.deep.equal([reason, pos, report]);
      expect(isVirError(x), expr).to.equal(true);
    }
    // libxml2 leniencies kept: a trailing '|' and an unclosed empty argument list
    expect(sel("//uuid|")).to.deep.equal(["uuid"]);
    expect(() => compileXPath("f(")).to.not.throw();
  });

  it("evaluation errors: unknown function, variable, arity, type, prefix (no caret)", () => {
    const cases: [string, string][] = [
      ["foo()", "xmlXPathCompOpEval: function foo not found\nXPath error : Unregistered function\n"],
      ["$x", "XPath error : Undefined variable\n"],
      ["count()", "XPath error : Invalid number of arguments\n"],
      ["concat(1)", "XPath error : Invalid number of arguments\n"],
      ["count(1)", "XPath error : Invalid type\n"],
      ["//uuid | 1", "XPath error : Invalid type\n"],
      ["//x:uuid", "XPath error : Undefined namespace prefix\n"],
    ];
    for (const [expr, report] of cases) {
      let err: unknown;
      try {
        selectNodes(expr, root);
      } catch (e) {
        err = e;
      }
      expect(err, expr).to.be.instanceOf(XPathError);
      expect((err as XPathError).report, expr).to.equal(report);
    }
    // a predicate that is never evaluated raises nothing, as in libxml2
    expect(sel("//nomatch[foo()]")).to.deep.equal([]);
  });

  it("deep nesting hits libxml2's recursion limit as an XPathError, never a stack overflow", () => {
    // virsh 9.0: 500 nested groups and a ~5000-term `or` chain print
    // "XPath error : Recursion limit exceeded"; 499 groups and 4990 terms evaluate.
    const nested = (n: number, open: string, inner: string, close: string) => open.repeat(n) + inner + close.repeat(n);
    const chain = (n: number) => Array(n).fill("1").join(" or ");
    const errorOf = (expr: string): unknown => {
      try {
        selectNodes(expr, root);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    for (const expr of [nested(500, "(", "1", ")"), nested(2000, "(", "1", ")"), nested(600, "//uuid[", "1", "]"), chain(6000), chain(50000)]) {
      const err = errorOf(expr);
      expect(err, expr.slice(0, 20)).to.be.instanceOf(XPathError);
      expect((err as XPathError).report).to.equal("XPath error : Recursion limit exceeded\n");
    }
    // below the limits: ordinary results (a number or boolean is "Incorrect xpath")
    for (const expr of [nested(499, "(", "1", ")"), chain(4990), "-".repeat(50000) + "1"]) {
      const err = errorOf(expr);
      expect(isVirError(err, "INTERNAL_ERROR") && !(err instanceof XPathError), expr.slice(0, 20)).to.equal(true);
      expect((err as Error).message).to.match(/^internal error: Incorrect xpath '/);
    }
    expect(sel(nested(499, "//uuid[", "1", "]"))).to.have.length(1);
    // unary minus: libxml2 keeps only the parity of a run of '-'
    expect(evaluateXPath("-".repeat(50001) + "'3'", xpathDocument(root))).to.equal(-3);
    expect(evaluateXPath("--'3'", xpathDocument(root))).to.equal(3);
  });
});

describe("xml/xpath-dump: libxml2 node dumps", () => {
  const root = readXML(XML);
  const nodes = (expr: string) => selectNodes(expr, root);

  it("elements re-indented from level 0, double-quoted attributes, text escaped", () => {
    expect(dumpNode(nodes("//usage")[0]!)).to.equal('<usage type="volume">\n  <volume>/var/lib/a&amp;b.img</volume>\n</usage>');
    expect(dumpNode(nodes("//description")[0]!)).to.equal(`<description>Tom &amp; "Jerry" &lt;x&gt; 'q' ünï</description>`);
    expect(dumpNode(nodes("//@type")[0]!)).to.equal(' type="volume"');
    expect(dumpNode(nodes("//description/text()")[0]!)).to.equal(`Tom &amp; "Jerry" &lt;x&gt; 'q' ünï`);
    expect(dumpNode(nodes("/")[0]!)).to.equal(
      '<?xml version="1.0" encoding="UTF-8"?>\n<secret ephemeral="no" private="no">\n' +
        `  <uuid>${UUID}</uuid>\n  <description>Tom &amp; "Jerry" &lt;x&gt; 'q' ünï</description>\n` +
        '  <usage type="volume">\n    <volume>/var/lib/a&amp;b.img</volume>\n  </usage>\n</secret>\n',
    );
    const odd = readXML("<a x='&quot;&lt;&#9;&#10;&#13;'><b/><c>a&#13;b</c></a>");
    expect(formatXPathResult(selectNodes("/a", odd), false)).to.equal('<a x="&quot;&lt;&#9;&#10;&#13;">\n  <b/>\n  <c>a&#13;b</c>\n</a>\n');
  });

  it("--wrap: attributes onto <nodes>, adjacent texts merged, text children turn layout off", () => {
    expect(dumpWrapped([])).to.equal("<nodes/>");
    expect(dumpWrapped(nodes("//@*"))).to.equal('<nodes ephemeral="no" private="no" type="volume"/>');
    expect(dumpWrapped(nodes("//uuid|//@type"))).to.equal(`<nodes type="volume">\n  <uuid>${UUID}</uuid>\n</nodes>`);
    expect(dumpWrapped(nodes("//uuid/text()|//volume/text()"))).to.equal(`<nodes>${UUID}/var/lib/a&amp;b.img</nodes>`);
    expect(dumpWrapped(nodes("//uuid/text()|//usage"))).to.equal(
      `<nodes>${UUID}<usage type="volume"><volume>/var/lib/a&amp;b.img</volume></usage></nodes>`,
    );
    // a later attribute of the same name replaces the earlier one, at the end
    const two = readXML("<r><a k='1' z='0'/><b k='2'/></r>");
    expect(dumpWrapped(selectNodes("//@*", two))).to.equal('<nodes z="0" k="2"/>');
  });

  it("--wrap after a copied document node: the next siblings come out one level up (libxml2)", () => {
    const secret = (pad: string): string =>
      `${pad}<secret ephemeral="no" private="no">\n${pad}  <uuid>${UUID}</uuid>\n` +
      `${pad}  <description>Tom &amp; "Jerry" &lt;x&gt; 'q' ünï</description>\n` +
      `${pad}  <usage type="volume">\n${pad}    <volume>/var/lib/a&amp;b.img</volume>\n${pad}  </usage>\n${pad}</secret>`;
    expect(dumpWrapped(nodes("//volume/ancestor-or-self::node()"))).to.equal(
      '<nodes>\n<?xml version="1.0" encoding="UTF-8"?>\n' + secret("") + "\n\n" + secret("") + "\n" +
        '<usage type="volume">\n  <volume>/var/lib/a&amp;b.img</volume>\n</usage>\n<volume>/var/lib/a&amp;b.img</volume>\n</nodes>',
    );
    // without the document node, children sit one level in
    expect(dumpWrapped(nodes("//volume/ancestor::*"))).to.equal(
      "<nodes>\n" + secret("  ") + '\n  <usage type="volume">\n    <volume>/var/lib/a&amp;b.img</volume>\n  </usage>\n</nodes>',
    );
  });

  it("formatXPathResult: one document per node, each followed by a newline", () => {
    expect(formatXPathResult(nodes("//@*"), false)).to.equal(' ephemeral="no"\n private="no"\n type="volume"\n');
    expect(formatXPathResult(nodes("//nomatch"), false)).to.equal("");
    expect(formatXPathResult(nodes("//nomatch"), true)).to.equal("<nodes/>\n");
  });
});
