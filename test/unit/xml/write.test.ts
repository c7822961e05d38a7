// src/xml/write.ts: libvirt's virBuffer output conventions.
import { expect } from "chai";
import fc from "fast-check";
import { escapeXML, formatXML } from "../../../src/xml/write.js";
import { readXML } from "../../../src/xml/read.js";

describe("xml/write", () => {
  describe("escapeXML (virBufferEscapeString)", () => {
    it("escapes the five markup characters", () => {
      expect(escapeXML(`Tom & "Jerry" <tag> 'q'`)).to.equal("Tom &amp; &quot;Jerry&quot; &lt;tag&gt; &apos;q&apos;");
    });
    it("passes non-ASCII, TAB, LF and CR through", () => {
      expect(escapeXML("ünï\t\n\r€\u{1F600}")).to.equal("ünï\t\n\r€\u{1F600}");
    });
    it("drops 0x01-0x08, 0x0B, 0x0C and 0x0E-0x19 but keeps 0x1A-0x1F", () => {
      let all = "";
      for (let c = 1; c < 0x20; c++) all += String.fromCharCode(c);
      const kept = escapeXML(all);
      expect(kept).to.equal("\t\n\r\x1A\x1B\x1C\x1D\x1E\x1F");
    });
    it("leaves an already escaped entity double-escaped, as libvirt does", () => {
      expect(escapeXML("&amp;")).to.equal("&amp;amp;");
    });
  });

  describe("formatXML", () => {
    it("writes 2-space indentation, single quotes and a newline on every line", () => {
      const out = formatXML({
        name: "volume",
        attrs: [["type", "file"]],
        children: [
          { name: "name", text: "a'b.img" },
          {
            name: "encryption",
            attrs: [["format", "luks"]],
            children: [{ name: "secret", attrs: [["type", "passphrase"], ["uuid", "f52a81b2-424e-490c-823d-6bd4235bc572"]] }],
          },
        ],
      });
      expect(out).to.equal(
        "<volume type='file'>\n" +
          "  <name>a&apos;b.img</name>\n" +
          "  <encryption format='luks'>\n" +
          "    <secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>\n" +
          "  </encryption>\n" +
          "</volume>\n",
      );
    });
    it("escapes attribute values and skips undefined ones", () => {
      expect(formatXML({ name: "a", attrs: [["x", `<"&'>`], ["y", undefined], ["z", ""]] })).to.equal(
        "<a x='&lt;&quot;&amp;&apos;&gt;' z=''/>\n",
      );
    });
    it("writes empty text as an open and close pair, and honours a starting indent", () => {
      expect(formatXML({ name: "t", text: "" }, 4)).to.equal("    <t></t>\n");
    });
    it("output reads back to the same text and attributes", () => {
      // Characters that survive escaping (the dropped controls are excluded).
      const safe = fc.string({ unit: fc.constantFrom("a", "&", "<", ">", '"', "'", " ", "\n", "\t", "ü", "]]>", "€") });
      fc.assert(
        fc.property(safe, safe, (text, attr) => {
          const back = readXML(formatXML({ name: "e", attrs: [["a", attr]], children: [{ name: "c", text }] }));
          expect(back.children[0]!.text).to.equal(text);
          // Attribute values normalise literal TAB/LF to spaces on reading; libvirt does the same.
          expect(back.attrs.get("a")).to.equal(attr.replace(/[\t\n]/g, " "));
        }),
      );
    });
  });
});
