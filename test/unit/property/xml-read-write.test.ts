// Property tests for the XML writer and reader (src/xml/write.ts, read.ts):
// whatever text and attribute values formatXML is given, readXML gives back
// the same, except for what XML itself cannot carry: the C0 controls
// virBufferEscapeString drops, CR (read back as LF) and, in attributes, the
// whitespace that attribute-value normalisation turns into spaces.
import { expect } from "chai";
import fc from "fast-check";
import { readXML, type XmlElement } from "../../../src/xml/read.js";
import { formatXML, type XmlOut } from "../../../src/xml/write.js";
import { xmlChar } from "./arbitraries.js";

// Controls libvirt's escaper drops, plus CR; 0x1A-0x1F are left out because
// the escaper passes them through and no XML 1.0 document can hold them.
const anyChar = fc.oneof(xmlChar, fc.constantFrom("\r", "\r\n", ...Array.from({ length: 0x19 }, (_, i) => String.fromCharCode(i + 1))));
const anyText = fc.array(anyChar, { maxLength: 25 }).map((p) => p.join(""));
const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_.-]{0,8}$/).filter((n) => !n.toLowerCase().startsWith("xml"));

const tree = fc.letrec<{ el: XmlOut }>((tie) => ({
  el: fc
    .record({
      name,
      attrs: fc.uniqueArray(fc.tuple(name, anyText), { maxLength: 4, selector: ([n]) => n }),
      body: fc.oneof(
        { weight: 2, arbitrary: anyText.map((text) => ({ text })) },
        { weight: 1, arbitrary: fc.array(tie("el"), { maxLength: 3 }).map((children) => ({ children })) },
      ),
    }, { requiredKeys: ["name", "attrs", "body"] })
    .map(({ name, attrs, body }) => ({ name, attrs, ...body })),
}));

/** What a written-then-read text becomes. */
function expectedText(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\x01-\x08\x0B\x0C\x0E-\x19]/g, "").replace(/\r\n?/g, "\n");
}
function expectedAttr(s: string): string {
  return expectedText(s).replace(/[\t\n]/g, " ");
}

function check(out: XmlOut, got: XmlElement): void {
  expect(got.name).to.equal(out.name);
  expect([...got.attrs]).to.deep.equal((out.attrs ?? []).map(([n, v]) => [n, expectedAttr(v ?? "")]));
  if (out.text !== undefined) {
    expect(got.children).to.have.length(0);
    expect(got.text).to.equal(expectedText(out.text));
    return;
  }
  const kids = out.children ?? [];
  expect(got.children).to.have.length(kids.length);
  kids.forEach((k, i) => check(k, got.children[i]!));
}

describe("property: XML writer and reader", () => {
  it("readXML(formatXML(el)) gives back names, attributes, text and structure", () => {
    fc.assert(
      fc.property(tree.el, (el) => {
        check(el, readXML(formatXML(el)));
      }),
      { numRuns: 300 },
    );
  });

  it("any single text or attribute value survives (dropped controls aside)", () => {
    fc.assert(
      fc.property(anyText, anyText, (text, value) => {
        const got = readXML(formatXML({ name: "a", attrs: [["v", value]], text }));
        expect(got.text).to.equal(expectedText(text));
        expect(got.attrs.get("v")).to.equal(expectedAttr(value));
      }),
      { numRuns: 500 },
    );
  });
});
