// src/xml/secret.ts: libvirt 9.0's <secret> parsing rules (spec §1.2) and
// byte-exact formatting (spec §1.3).
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ErrorCode, ErrorDomain, VirError, type ErrorCodeName } from "../../../src/errors.js";
import type { SecretDef } from "../../../src/secret/def.js";
import { formatSecretXML, parseSecretXML } from "../../../src/xml/secret.js";

// ../shared sits beside the repository, locally and in CI (.ci/run).
const LIBVIRT_FIXTURES = fileURLToPath(new URL("../../../../shared/fixtures/libvirt/secret/secretxml2xmlin/", import.meta.url));
const OWN_FIXTURES = fileURLToPath(new URL("../../../fixtures/secret/roundtrip/", import.meta.url));
const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function parseError(xml: string): VirError {
  try {
    parseSecretXML(xml);
  } catch (e) {
    expect(e).to.be.instanceOf(VirError);
    return e as VirError;
  }
  expect.fail(`parsed without error: ${xml}`);
}

function expectError(xml: string, codeName: ErrorCodeName, message: string): void {
  const e = parseError(xml);
  expect(e.codeName).to.equal(codeName);
  expect(e.code).to.equal(ErrorCode[codeName]);
  expect(e.message).to.equal(message);
}

describe("xml/secret", () => {
  describe("libvirt's secretxml2xmlin fixtures", () => {
    const files = readdirSync(LIBVIRT_FIXTURES).filter((f) => f.endsWith(".xml"));
    it("has all seven", () => expect(files).to.have.length(7));
    for (const f of files) {
      it(`${f} round-trips byte-identically`, () => {
        const xml = readFileSync(LIBVIRT_FIXTURES + f, "utf8");
        expect(formatSecretXML(parseSecretXML(xml))).to.equal(xml);
      });
    }
    it("usage-ceph.xml parses to the expected definition", () => {
      const def = parseSecretXML(readFileSync(LIBVIRT_FIXTURES + "usage-ceph.xml", "utf8"));
      expect(def).to.deep.equal({
        uuid: "f52a81b2-424e-490c-823d-6bd4235bc572",
        ephemeral: false,
        isPrivate: true,
        description: "Ceph secret",
        usageType: "ceph",
        usageId: "CephCephCephCeph",
      });
    });
  });

  describe("own fixtures: output equals what libvirt 9.0 wrote to disk", () => {
    const inputs = readdirSync(OWN_FIXTURES).filter((f) => f.endsWith(".xml"));
    it("has the fixtures", () => expect(inputs.length).to.be.at.least(7));
    for (const f of inputs) {
      it(f, () => {
        const xml = readFileSync(OWN_FIXTURES + f, "utf8");
        const expected = readFileSync(OWN_FIXTURES + f.replace(/\.xml$/, ".out"), "utf8");
        const out = formatSecretXML(parseSecretXML(xml));
        expect(out).to.equal(expected);
        // libvirt's own output is a fixed point.
        expect(formatSecretXML(parseSecretXML(out))).to.equal(out);
      });
    }
  });

  describe("error rows of spec §1.2, in libvirt's order", () => {
    it("malformed XML: XML_DETAIL with position", () => {
      expectError("<secret>\n", "XML_DETAIL", "(definition_of_secret):2: Premature end of data in tag secret line 1\n(null)\n^");
    });
    it("malformed XML loaded from a file names the file", () => {
      try {
        parseSecretXML("<secret><uuid>1</uid></secret>", { docName: "/var/lib/secrets/a.xml" });
        expect.fail("accepted");
      } catch (e) {
        expect((e as VirError).message).to.equal(
          "/var/lib/secrets/a.xml:1: Opening and ending tag mismatch: uuid line 1 and uid\n<secret><uuid>1</uid></secret>\n---------------------^",
        );
      }
    });
    it("wrong root: XML_ERROR from the XML domain", () => {
      expectError("<secrets/>", "XML_ERROR", "XML error: expecting root element of 'secret', not 'secrets'");
      expect(parseError("<secrets/>").domain).to.equal(ErrorDomain.XML);
      expect(parseError("<secrets/>").code).to.equal(27);
    });
    it("well-formedness is checked before the root name", () => {
      expect(parseError("<secrets>").codeName).to.equal("XML_DETAIL");
    });
    for (const bad of ["YES", "true", "1", " yes", "maybe"]) {
      it(`ephemeral='${bad}': invalid value of 'ephemeral'`, () => {
        expectError(`<secret ephemeral='${bad}'/>`, "XML_ERROR", "XML error: invalid value of 'ephemeral'");
      });
      it(`private='${bad}': invalid value of 'private'`, () => {
        expectError(`<secret private='${bad}'/>`, "XML_ERROR", "XML error: invalid value of 'private'");
      });
    }
    it("ephemeral is checked before private, and both before the uuid", () => {
      expectError("<secret ephemeral='x' private='y'><uuid>bad</uuid></secret>", "XML_ERROR", "XML error: invalid value of 'ephemeral'");
      expectError("<secret private='y'><uuid>bad</uuid></secret>", "XML_ERROR", "XML error: invalid value of 'private'");
    });
    for (const bad of ["{12345678-1234-1234-1234-123456789abc}", "not-a-uuid", " ", "12345678-1234-1234-1234-123456789ab"]) {
      it(`<uuid>${bad}</uuid>: malformed uuid element (INTERNAL_ERROR)`, () => {
        expectError(`<secret><uuid>${bad}</uuid></secret>`, "INTERNAL_ERROR", "internal error: malformed uuid element");
        expect(parseError(`<secret><uuid>${bad}</uuid></secret>`).code).to.equal(1);
      });
    }
    it("the uuid is checked before the usage", () => {
      expectError("<secret><usage type='foo'/><uuid>x</uuid></secret>", "INTERNAL_ERROR", "internal error: malformed uuid element");
    });
    it("usage without type: unknown secret usage type (XML_ERROR)", () => {
      expectError("<secret><usage><name>a</name></usage></secret>", "XML_ERROR", "XML error: unknown secret usage type");
    });
    it("usage with type='': unknown secret usage type (XML_ERROR)", () => {
      expectError("<secret><usage type=''><name>a</name></usage></secret>", "XML_ERROR", "XML error: unknown secret usage type");
    });
    for (const bad of ["foo", "VOLUME", "Ceph", "passphrase", " ceph", "__proto__", "toString"]) {
      it(`usage type='${bad}': unknown secret usage type ${bad} (CONFIG_UNSUPPORTED)`, () => {
        expectError(
          `<secret><usage type='${bad}'><name>a</name></usage></secret>`,
          "CONFIG_UNSUPPORTED",
          `unsupported configuration: unknown secret usage type ${bad}`,
        );
        expect(parseError(`<secret><usage type='${bad}'/></secret>`).code).to.equal(67);
      });
    }
    const missing: Array<[string, string, string]> = [
      ["volume", "volume", "volume usage specified, but volume path is missing"],
      ["ceph", "name", "Ceph usage specified, but name is missing"],
      ["iscsi", "target", "iSCSI usage specified, but target is missing"],
      ["tls", "name", "TLS usage specified, but name is missing"],
      ["vtpm", "name", "vTPM usage specified, but name is missing"],
    ];
    for (const [type, elem, text] of missing) {
      it(`${type} usage without <${elem}>: ${text}`, () => {
        expectError(`<secret><usage type='${type}'/></secret>`, "INTERNAL_ERROR", `internal error: ${text}`);
      });
      it(`${type} usage with empty <${elem}>: ${text}`, () => {
        expectError(`<secret><usage type='${type}'><${elem}></${elem}></usage></secret>`, "INTERNAL_ERROR", `internal error: ${text}`);
      });
      it(`${type} usage with only a foreign id element: ${text}`, () => {
        const other = elem === "volume" ? "name" : "volume";
        expectError(`<secret><usage type='${type}'><${other}>/x</${other}></usage></secret>`, "INTERNAL_ERROR", `internal error: ${text}`);
      });
    }
    it("the parser's errors come from the secret domain", () => {
      expect(parseError("<secret ephemeral='x'/>").domain).to.equal(ErrorDomain.SECRET);
      expect(parseError("<secret><usage type='ceph'/></secret>").domain).to.equal(ErrorDomain.SECRET);
    });
  });

  describe("accepted documents", () => {
    it("an empty <secret/> gets a generated v4 UUID and no usage", () => {
      const def = parseSecretXML("<secret/>");
      expect(def.uuid).to.match(CANONICAL);
      expect(def).to.deep.equal({ uuid: def.uuid, ephemeral: false, isPrivate: false, usageType: "none" });
      expect(parseSecretXML("<secret/>").uuid).not.to.equal(def.uuid);
    });
    it("empty values mean absent (Q7)", () => {
      const def = parseSecretXML("<secret ephemeral='' private=''><uuid></uuid><description></description></secret>");
      expect(def.uuid).to.match(CANONICAL);
      expect(def.ephemeral).to.equal(false);
      expect(def.isPrivate).to.equal(false);
      expect("description" in def).to.equal(false);
    });
    it("yes and no are read case-sensitively", () => {
      const def = parseSecretXML("<secret ephemeral='yes' private='no'/>");
      expect([def.ephemeral, def.isPrivate]).to.deep.equal([true, false]);
    });
    const lenient: Array<[string, string]> = [
      ["  12345678-1234-1234-1234-123456789ABC ", "12345678-1234-1234-1234-123456789abc"],
      ["1234567812341234123412345678abcd", "12345678-1234-1234-1234-12345678abcd"],
      ["1234-5678-1234-1234-1234-12345678-abcf", "12345678-1234-1234-1234-12345678abcf"],
      ["00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"],
      ["\n  12345678123412341234123456789abc\n", "12345678-1234-1234-1234-123456789abc"],
    ];
    for (const [text, canonical] of lenient) {
      it(`<uuid>${JSON.stringify(text)}</uuid> is read as ${canonical}`, () => {
        expect(parseSecretXML(`<secret><uuid>${text}</uuid></secret>`).uuid).to.equal(canonical);
      });
    }
    it("type='none' gives a secret without usage, and nothing else is read", () => {
      const def = parseSecretXML("<secret><usage type='none'><name>x</name></usage></secret>");
      expect(def.usageType).to.equal("none");
      expect("usageId" in def).to.equal(false);
      expect(formatSecretXML(def)).not.to.contain("usage");
    });
    it("keeps whitespace in ids and descriptions", () => {
      const def = parseSecretXML("<secret><description>  a\n b  </description><usage type='volume'><volume>  /spaced  </volume></usage></secret>");
      expect(def.description).to.equal("  a\n b  ");
      expect(def.usageId).to.equal("  /spaced  ");
    });
    it("does not check that a volume id is a path (schema only)", () => {
      expect(parseSecretXML("<secret><usage type='volume'><volume>relative</volume></usage></secret>").usageId).to.equal("relative");
    });
    it("the first <uuid>, <description> and <usage> win; unknown elements and attributes are ignored", () => {
      const def = parseSecretXML(
        "<secret foo='bar'><junk><uuid>bad</uuid></junk><uuid>11111111-1111-1111-1111-111111111111</uuid><uuid>bad</uuid>" +
          "<description>one</description><description>two</description>" +
          "<usage type='tls' extra='1'><name>first</name><name>second</name></usage><usage type='ceph'><name>x</name></usage></secret>",
      );
      expect(def).to.deep.equal({
        uuid: "11111111-1111-1111-1111-111111111111",
        ephemeral: false,
        isPrivate: false,
        description: "one",
        usageType: "tls",
        usageId: "first",
      });
    });
    it("follows XPath across <usage> elements as libvirt does (verified against 9.0)", () => {
      // string(./usage/@type) takes the first type attribute; string(./usage/name) the first name.
      const def = parseSecretXML("<secret><usage><name>a</name></usage><usage type='ceph'><name>b</name></usage></secret>");
      expect([def.usageType, def.usageId]).to.deep.equal(["ceph", "a"]);
      const def2 = parseSecretXML("<secret><usage type='ceph'><volume>a</volume></usage><usage type='iscsi'><name>b</name></usage></secret>");
      expect([def2.usageType, def2.usageId]).to.deep.equal(["ceph", "b"]);
      expectError("<secret><usage type=''/><usage type='ceph'><name>b</name></usage></secret>", "XML_ERROR", "XML error: unknown secret usage type");
    });
    it("handles namespaces as libvirt's libxml2 and XPath do (verified against 9.0)", () => {
      // A bound prefix on the root is fine: libvirt compares the local name.
      expect(parseSecretXML("<x:secret xmlns:x='urn:x'><uuid>11111111-1111-1111-1111-111111111112</uuid></x:secret>").uuid).to.equal(
        "11111111-1111-1111-1111-111111111112",
      );
      // An unbound prefix stays part of the name.
      expectError("<x:secret/>", "XML_ERROR", "XML error: expecting root element of 'secret', not 'x:secret'");
      // Elements in a namespace are invisible to "./uuid", so a UUID is generated.
      for (const xml of [
        "<secret xmlns='urn:x'><uuid>11111111-1111-1111-1111-111111111113</uuid></secret>",
        "<secret><x:uuid>11111111-1111-1111-1111-111111111114</x:uuid></secret>",
        "<secret xmlns:x='urn:x'><x:usage type='ceph'><name>a</name></x:usage></secret>",
      ]) {
        const def = parseSecretXML(xml);
        expect(def.uuid).to.match(CANONICAL);
        expect(def.usageType).to.equal("none");
      }
    });
    it("ignores the 2009 <secret><volume> form (spec §1.4): no usage", () => {
      const def = parseSecretXML("<secret><uuid>00000000-0000-0000-0000-000000000001</uuid><volume>/x</volume></secret>");
      expect(def.usageType).to.equal("none");
      expect(formatSecretXML(def)).to.equal(
        "<secret ephemeral='no' private='no'>\n  <uuid>00000000-0000-0000-0000-000000000001</uuid>\n</secret>\n",
      );
    });
    it("takes the description's string value across child elements, CDATA and references", () => {
      const def = parseSecretXML("<secret><description>a<b>X</b>c<![CDATA[<&>]]>&#65;</description></secret>");
      expect(def.description).to.equal("aXc<&>A");
    });
    it("reads a large description whole (no length limit)", () => {
      const big = "d".repeat(1_000_000);
      expect(parseSecretXML(`<secret><description>${big}</description></secret>`).description).to.have.length(1_000_000);
    });
  });

  describe("formatSecretXML", () => {
    const base: SecretDef = { uuid: "b8eecf55-798e-4db7-b2dd-025b0cf08a36", ephemeral: false, isPrivate: true, usageType: "none" };
    it("always prints both attributes and the uuid, in libvirt's order", () => {
      expect(formatSecretXML(base)).to.equal(
        "<secret ephemeral='no' private='yes'>\n  <uuid>b8eecf55-798e-4db7-b2dd-025b0cf08a36</uuid>\n</secret>\n",
      );
    });
    it("prints each usage type with its id element", () => {
      const ids = { volume: "volume", ceph: "name", iscsi: "target", tls: "name", vtpm: "name" } as const;
      for (const [type, elem] of Object.entries(ids)) {
        const out = formatSecretXML({ ...base, ephemeral: true, usageType: type as keyof typeof ids, usageId: "id-1" });
        expect(out).to.equal(
          "<secret ephemeral='yes' private='yes'>\n" +
            "  <uuid>b8eecf55-798e-4db7-b2dd-025b0cf08a36</uuid>\n" +
            `  <usage type='${type}'>\n    <${elem}>id-1</${elem}>\n  </usage>\n</secret>\n`,
        );
      }
    });
    it("escapes and drops control characters like virBufferEscapeString", () => {
      const out = formatSecretXML({ ...base, description: `  Tom & "Jerry" <tag> 'q' ünï\nsecond line\u0001\u0019  `, usageType: "ceph", usageId: "a<b" });
      expect(out).to.equal(
        "<secret ephemeral='no' private='yes'>\n" +
          "  <uuid>b8eecf55-798e-4db7-b2dd-025b0cf08a36</uuid>\n" +
          "  <description>  Tom &amp; &quot;Jerry&quot; &lt;tag&gt; &apos;q&apos; ünï\nsecond line  </description>\n" +
          "  <usage type='ceph'>\n    <name>a&lt;b</name>\n  </usage>\n</secret>\n",
      );
    });
    it("omits an empty description", () => {
      expect(formatSecretXML({ ...base, description: "" })).not.to.contain("description");
    });
    it("prints the uuid canonically", () => {
      expect(formatSecretXML({ ...base, uuid: "B8EECF55798E4DB7B2DD025B0CF08A36" })).to.contain(
        "<uuid>b8eecf55-798e-4db7-b2dd-025b0cf08a36</uuid>",
      );
    });
    it("refuses a definition that parsing could never produce", () => {
      expect(() => formatSecretXML({ ...base, uuid: "nope" })).to.throw(VirError, "malformed uuid element");
      expect(() => formatSecretXML({ ...base, usageType: "iscsi" })).to.throw(VirError, "iSCSI usage specified, but target is missing");
    });
  });
});
