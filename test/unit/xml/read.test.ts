// src/xml/read.ts: well-formedness errors exactly as libvirt 9.0 prints them
// (each expected text below was captured from `virsh secret-define` on
// Debian 12), refusal of DTDs and entities, and the element tree.
import { expect } from "chai";
import { ErrorCode, ErrorDomain, VirError } from "../../../src/errors.js";
import { childrenNamed, firstChild, readXML } from "../../../src/xml/read.js";

function readError(xml: string, docName?: string): VirError {
  try {
    readXML(xml, docName === undefined ? {} : { docName });
  } catch (e) {
    expect(e).to.be.instanceOf(VirError);
    return e as VirError;
  }
  expect.fail(`no error for ${JSON.stringify(xml)}`);
}

describe("xml/read", () => {
  describe("malformed input gives libvirt's XML_DETAIL report", () => {
    // [input, exact message] as libvirt 9.0 printed them after "error: ".
    const cases: Array<[string, string]> = [
      ["<secret>\n  <uuid>x</uuid>\n", "(definition_of_secret):3: Premature end of data in tag secret line 1\n(null)\n^"],
      ["<secret><uuid>1</uid></secret>", "(definition_of_secret):1: Opening and ending tag mismatch: uuid line 1 and uid\n<secret><uuid>1</uid></secret>\n---------------------^"],
      ["", "(definition_of_secret):1: Document is empty\n(null)\n^"],
      ["<a/><b/>", "(definition_of_secret):1: Extra content at the end of the document\n<a/><b/>\n----^"],
      ["<secret/>junk", "(definition_of_secret):1: Extra content at the end of the document\n<secret/>junk\n---------^"],
      ["<secret a='1' a='2'/>", "(definition_of_secret):1: Attribute a redefined\n<secret a='1' a='2'/>\n-------------------^"],
      ["<secret>&foo;</secret>", "(definition_of_secret):1: Entity 'foo' not defined\n<secret>&foo;</secret>\n-------------^"],
      ["<secret>\n<description>a\u0001b</description></secret>", "(definition_of_secret):2: PCDATA invalid Char value 1\n<description>a\u0001b</description></secret>\n--------------^"],
      ["<secret><description>a&#1;b</description></secret>", "(definition_of_secret):1: xmlParseCharRef: invalid xmlChar value 1\n<secret><description>a&#1;b</description></secret>\n--------------------------^"],
      ["<secret><description>a & b</description></secret>", "(definition_of_secret):1: xmlParseEntityRef: no name\n<secret><description>a & b</description></secret>\n------------------------^"],
      ["<secret a='<'/>", "(definition_of_secret):1: Unescaped '<' not allowed in attributes values\n<secret a='<'/>\n-----------^"],
      ["<secret a=1/>", "(definition_of_secret):1: AttValue: \" or ' expected\n<secret a=1/>\n----------^"],
      ["hello<secret/>", "(definition_of_secret):1: Start tag expected, '<' not found\nhello<secret/>\n^"],
      ["<secret>\n  <uuid>1</uuid>\n  <description>x", "(definition_of_secret):3: Premature end of data in tag description line 3\n  <description>x\n----------------^"],
      ["<secret", "(definition_of_secret):1: Couldn't find end of Start Tag secret line 1\n<secret\n-------^"],
      ["<secret><!ENTITY x 'y'></secret>", "(definition_of_secret):1: StartTag: invalid element name\n<secret><!ENTITY x 'y'></secret>\n---------^"],
      ["\t\t<secret><foo></secret>", "(definition_of_secret):1: Opening and ending tag mismatch: foo line 1 and secret\n\t\t<secret><foo></secret>\n\t\t----------------------^"],
      ["<secret>", "(definition_of_secret):1: Premature end of data in tag secret line 1\n<secret>\n--------^"],
      ["<secret>\n", "(definition_of_secret):2: Premature end of data in tag secret line 1\n(null)\n^"],
      ["<secret>x", "(definition_of_secret):1: Premature end of data in tag secret line 1\n<secret>x\n---------^"],
      ["<secret><uuid>", "(definition_of_secret):1: Premature end of data in tag uuid line 1\n<secret><uuid>\n--------------^"],
      ["<secret>\n  <uuid>x</uuid>", "(definition_of_secret):2: Premature end of data in tag secret line 1\n  <uuid>x</uuid>\n----------------^"],
      ["   ", "(definition_of_secret):1: Start tag expected, '<' not found\n   \n---^"],
      ["\n\n", "(definition_of_secret):3: Start tag expected, '<' not found\n(null)\n^"],
      ["<secret/>\n<x/>\n", "(definition_of_secret):2: Extra content at the end of the document\n<x/>\n^"],
      ["<secret>\n</uuid>", "(definition_of_secret):2: Opening and ending tag mismatch: secret line 1 and uuid\n</uuid>\n-------^"],
      ["<secret></>", "(definition_of_secret):1: Opening and ending tag mismatch: secret line 1 and unparsable\n<secret></>\n-----------^"],
      ["<secret><!-- a -- b --></secret>", "(definition_of_secret):1: Double hyphen within comment: <!-- a \n<secret><!-- a -- b --></secret>\n---------------^"],
      ["<secret><?1?></secret>", "(definition_of_secret):1: xmlParsePI : no target name\n<secret><?1?></secret>\n----------^"],
    ];
    for (const [xml, message] of cases) {
      it(`reports ${JSON.stringify(xml)}`, () => {
        const e = readError(xml);
        expect(e.codeName).to.equal("XML_DETAIL");
        expect(e.code).to.equal(ErrorCode.XML_DETAIL);
        expect(e.code).to.equal(35);
        expect(e.domain).to.equal(ErrorDomain.SECRET);
        expect(e.message).to.equal(message);
      });
    }

    it("names the document as asked (a file path at load time)", () => {
      const e = readError("<secret>", "/etc/libvirt/secrets/x.xml");
      expect(e.message).to.equal("/etc/libvirt/secrets/x.xml:1: Premature end of data in tag secret line 1\n<secret>\n--------^");
    });

    it("can keep the document's text out of errors (for documents holding credentials)", () => {
      try {
        readXML("<keystore><password>hunter2&hunter3;</password></keystore>", { docName: "ks.xml", quoteInput: false });
        expect.fail("accepted");
      } catch (e) {
        expect((e as VirError).message).to.equal("ks.xml:1: Entity not defined\n(not shown)\n^");
      }
    });
    it("keeps the context line to 79 characters around the fault", () => {
      const long = "<secret><description>" + "x".repeat(200) + "&bogus;</description></secret>";
      const [, context, caret] = readError(long).message.split("\n");
      expect(context!.length).to.be.at.most(79);
      expect(caret!.endsWith("^")).to.equal(true);
      expect(caret!.length).to.be.at.most(80);
    });

    const more: Array<[string, string]> = [
      ["<secret><description>&#xD800;</description></secret>", "xmlParseCharRef: invalid xmlChar value 55296"],
      ["<secret><description>&#99999999999;</description></secret>", "xmlParseCharRef: character reference out of bounds"],
      ["<secret><description>&#12a;</description></secret>", "CharRef: invalid decimal value"],
      ["<secret><description>&amp</description></secret>", "EntityRef: expecting ';'"],
      ["<secret><description>a ]]> b</description></secret>", "Sequence ']]>' not allowed in content"],
      ["<secret><!-- a -- b --></secret>", "Double hyphen within comment: <!-- a "],
      ["<secret><!-- open", "Comment not terminated"],
      ["<secret><![CDATA[open", "CData section not finished"],
      ["<secret><?xml version='1.0'?></secret>", "XML declaration allowed only at the start of the document"],
      ["<secret a='1'b='2'/>", "attributes construct error"],
      ["<secret a/>", "Specification mandates value for attribute a"],
      ["<secret a='x\u0002'/>", "invalid character in attribute value"],
      ["<secret></secret x>", "expected '>'"],
      ["<1secret/>", "StartTag: invalid element name"],
      ["<?xml?><secret/>", "XML declaration allowed only at the start of the document"],
      ["<secret><?1?></secret>", "xmlParsePI : no target name"],
      ["<secret><!DOCTYPE x></secret>", "StartTag: invalid element name"],
      ["</secret>", "StartTag: invalid element name"],
      ["<secret></ secret>", "expected '>'"],
      ["<?xml encoding='UTF-8'?><secret/>", "Malformed declaration expecting version"],
      ["<secret>\ud800</secret>", "PCDATA invalid Char value 55296"],
    ];
    for (const [xml, text] of more) {
      it(`rejects ${JSON.stringify(xml)} with "${text}"`, () => {
        const e = readError(xml);
        expect(e.codeName).to.equal("XML_DETAIL");
        expect(e.message.split("\n")[0]).to.match(/^\(definition_of_secret\):\d+: /);
        expect(e.message.split("\n")[0]!.replace(/^\(definition_of_secret\):\d+: /, "")).to.equal(text);
      });
    }

    it(`limits nesting to libxml2's 256 levels`, () => {
      const ok = "<a>".repeat(256) + "</a>".repeat(256);
      expect(readXML(ok).name).to.equal("a");
      const deep = "<a>".repeat(257) + "</a>".repeat(257);
      expect(readError(deep).message).to.contain("Excessive depth in document: 256 use XML_PARSE_HUGE option");
    });
  });

  describe("DTDs and entity declarations are refused", () => {
    const refused = "DOCTYPE and entity declarations are not allowed in this document";
    it("refuses billion laughs without expanding anything", () => {
      const lol =
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n' +
        Array.from({ length: 9 }, (_, n) => ` <!ENTITY lol${n + 1} "${`&lol${n ? n : ""};`.repeat(10)}">`).join("\n") +
        "\n]>\n<lolz>&lol9;</lolz>";
      const started = Date.now();
      const e = readError(lol);
      expect(Date.now() - started).to.be.below(1000);
      expect(e.codeName).to.equal("XML_DETAIL");
      expect(e.message).to.equal(`(definition_of_secret):2: ${refused}\n<!DOCTYPE lolz [\n^`);
    });
    it("refuses an external entity (XXE) before anything is read", () => {
      const xxe = '<!DOCTYPE secret [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><secret><description>&xxe;</description></secret>';
      const e = readError(xxe);
      expect(e.codeName).to.equal("XML_DETAIL");
      expect(e.message).to.contain(refused);
      expect(e.message).not.to.contain("root:");
    });
    it("refuses an internal subset with a parameter entity", () => {
      expect(readError('<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1/x">%p;]><x/>').message).to.contain(refused);
    });
    it("refuses a DOCTYPE with only a system id, after the declaration and a comment", () => {
      const e = readError("<?xml version='1.0'?>\n<!-- c -->\n<!doctype secret SYSTEM 'file:///etc/passwd'>\n<secret/>");
      expect(e.message).to.equal(`(definition_of_secret):3: ${refused}\n<!doctype secret SYSTEM 'file:///etc/passwd'>\n^`);
    });
    it("refuses a stray ENTITY declaration in the prolog", () => {
      expect(readError("<!ENTITY x 'y'><secret/>").message).to.contain(refused);
    });
  });

  describe("the element tree", () => {
    it("keeps names, attributes, children, text and lines", () => {
      const root = readXML("<?xml version='1.0' encoding='UTF-8'?>\n<!-- c -->\n<r a='1' b=\"two\">\n  <c x='&lt;&amp;&#65;'>t1</c>\n  <c/>\n  <d>x<e>y</e>z</d>\n</r>\n<!-- trailing --><?pi data?>\n");
      expect(root.name).to.equal("r");
      expect([...root.attrs]).to.deep.equal([["a", "1"], ["b", "two"]]);
      expect(root.line).to.equal(3);
      expect(root.children.map((c) => c.name)).to.deep.equal(["c", "c", "d"]);
      const cs = childrenNamed(root, "c");
      expect(cs[0]!.attrs.get("x")).to.equal("<&A");
      expect(cs[0]!.text).to.equal("t1");
      expect(cs[0]!.line).to.equal(4);
      expect(cs[1]!.text).to.equal("");
      expect(firstChild(root, "d")!.text).to.equal("xyz");
      expect(firstChild(root, "nope")).to.equal(undefined);
    });
    it("resolves namespace prefixes and keeps xmlns declarations out of the attributes", () => {
      const root = readXML("<p:r xmlns:p='urn:p' xmlns='urn:d' a='1' p:b='2'><c/><q:c/><e xmlns=''/><p:f xmlns:p='urn:other'/></p:r>");
      expect([root.name, root.ns]).to.deep.equal(["r", "urn:p"]);
      expect([...root.attrs]).to.deep.equal([["a", "1"], ["p:b", "2"]]);
      expect(root.children.map((c) => [c.name, c.ns])).to.deep.equal([
        ["c", "urn:d"],
        ["q:c", undefined],
        ["e", undefined],
        ["f", "urn:other"],
      ]);
      expect(firstChild(root, "c")).to.equal(undefined);
      expect(firstChild(root, "e")!.name).to.equal("e");
      expect(readXML("<r xml:lang='en'><xml:x/></r>").children[0]!.ns).to.equal("http://www.w3.org/XML/1998/namespace");
    });
    it("decodes only the five predefined entities and character references", () => {
      const root = readXML("<r>&amp;&lt;&gt;&quot;&apos;&#65;&#x42;&#x1F600;</r>");
      expect(root.text).to.equal("&<>\"'AB\u{1F600}");
      expect(readError("<r>&nbsp;</r>").message).to.contain("Entity 'nbsp' not defined");
      expect(readError("<r>&__proto__;</r>").message).to.contain("Entity '__proto__' not defined");
    });
    it("keeps values as strings (no number coercion) and whitespace as written", () => {
      const root = readXML("<r n='0123'><a>1e3</a><b>  spaced\n  text  </b></r>");
      expect(root.attrs.get("n")).to.equal("0123");
      expect(firstChild(root, "a")!.text).to.equal("1e3");
      expect(firstChild(root, "b")!.text).to.equal("  spaced\n  text  ");
    });
    it("normalises line ends and attribute whitespace as XML requires", () => {
      const root = readXML("<r a='x\ty\r\nz' b='&#10;&#9;'>1\r\n2\r3&#13;</r>");
      expect(root.attrs.get("a")).to.equal("x y z");
      expect(root.attrs.get("b")).to.equal("\n\t");
      expect(root.text).to.equal("1\n2\n3\r");
    });
    it("merges CDATA into text without decoding it", () => {
      expect(readXML("<r>a<![CDATA[<&amp;>]]>b</r>").text).to.equal("a<&amp;>b");
    });
    it("skips a byte-order mark", () => {
      expect(readXML("\uFEFF<r/>").name).to.equal("r");
    });
    it("is not fooled by prototype-like names", () => {
      const root = readXML("<__proto__ constructor='x'><toString/></__proto__>");
      expect(root.name).to.equal("__proto__");
      expect(root.attrs.get("constructor")).to.equal("x");
      expect(({} as Record<string, unknown>)["constructor"]).to.equal(Object);
    });
    it("checks the root name when asked, as libvirt's XML helper does", () => {
      try {
        readXML("<secrets/>", { rootName: "secret" });
        expect.fail("accepted a wrong root");
      } catch (e) {
        expect(e).to.be.instanceOf(VirError);
        const v = e as VirError;
        expect(v.codeName).to.equal("XML_ERROR");
        expect(v.code).to.equal(27);
        expect(v.domain).to.equal(ErrorDomain.XML);
        expect(v.message).to.equal("XML error: expecting root element of 'secret', not 'secrets'");
      }
    });
    it("reads a deep but legal document without recursion", () => {
      const xml = "<a>".repeat(200) + "t" + "</a>".repeat(200);
      expect(readXML(xml).text).to.equal("t");
    });
    it("holds deep mixed text once, not once per ancestor (no depth × size blow-up)", () => {
      // 255 levels around ~2 MB of text split by empty elements: a copy of the
      // text per level would be over 500 MB; the document itself is 2 MB.
      const inner = ("y".repeat(1000) + "<b/>").repeat(2000);
      const xml = "<a>x".repeat(255) + inner + "</a>".repeat(255);
      global.gc?.();
      const before = process.memoryUsage().heapUsed;
      const root = readXML(xml);
      const grown = process.memoryUsage().heapUsed - before;
      expect(grown, `heap grew by ${grown} bytes`).to.be.below(100 * 1024 * 1024);
      // every level still has its full string value when asked
      expect(root.text.length).to.equal(255 + 2000 * 1000);
      let deepest = root;
      while (deepest.children[0]?.name === "a") deepest = deepest.children[0];
      expect(deepest.text.length).to.equal(1 + 2000 * 1000);
      expect(deepest.children).to.have.length(2000);
      expect(deepest.children[0]!.text).to.equal("");
    });
  });
});
