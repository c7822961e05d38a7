// src/xml/validate.ts + schemas/secret.rng: libvirt's --validate behaviour.
// Expected RelaxNG messages were captured from libvirt 9.0's
// `virsh secret-define --validate` (fixtures/secret/invalid/expected.json).
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ErrorCode, ErrorDomain, VirError } from "../../../src/errors.js";
import { secretSchemaPath, validateSecretXML } from "../../../src/xml/validate.js";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const LIBVIRT_FIXTURES = fileURLToPath(new URL("../../../../shared/fixtures/libvirt/secret/secretxml2xmlin/", import.meta.url));
const INVALID = REPO + "fixtures/secret/invalid/";
const ROUNDTRIP = REPO + "fixtures/secret/roundtrip/";

function validationError(xml: string): VirError {
  try {
    validateSecretXML(xml);
  } catch (e) {
    expect(e).to.be.instanceOf(VirError);
    return e as VirError;
  }
  expect.fail(`validated: ${xml}`);
}

describe("xml/validate", () => {
  it("finds the schema next to the package, not in the cwd", () => {
    const cwd = process.cwd();
    try {
      process.chdir("/");
      expect(secretSchemaPath()).to.equal(REPO + "schemas/secret.rng");
    } finally {
      process.chdir(cwd);
    }
  });

  for (const f of readdirSync(LIBVIRT_FIXTURES).filter((n) => n.endsWith(".xml"))) {
    it(`accepts libvirt's ${f}`, () => {
      validateSecretXML(readFileSync(LIBVIRT_FIXTURES + f, "utf8"));
    });
  }

  it("accepts minimal and reordered documents", () => {
    validateSecretXML("<secret/>");
    validateSecretXML("<secret private='no'><usage type='iscsi'><target>iqn.x:y</target></usage><description/><uuid>1234567812341234123412345678ABCD</uuid></secret>");
    validateSecretXML("<secret><usage type='volume'><volume>C:\\images\\a.img</volume></usage></secret>");
  });

  const expected = JSON.parse(readFileSync(INVALID + "expected.json", "utf8")) as Record<string, string[]>;
  for (const [file, messages] of Object.entries(expected)) {
    it(`rejects ${file} with libvirt's messages`, () => {
      const e = validationError(readFileSync(INVALID + file, "utf8"));
      expect(e.codeName).to.equal("XML_INVALID_SCHEMA");
      expect(e.code).to.equal(ErrorCode.XML_INVALID_SCHEMA);
      expect(e.code).to.equal(92);
      expect(e.domain).to.equal(ErrorDomain.XML);
      expect(e.message).to.equal(
        `XML document failed to validate against schema: Unable to validate doc against ${REPO}schemas/secret.rng\n` +
          messages.map((m) => m + "\n").join(""),
      );
    });
  }

  it("rejects documents that the parser alone accepts (round-trip fixtures with quirks)", () => {
    // lenient uuid, type='none', the 2009 form and repeated elements are all parser-only
    for (const f of ["uuid-lenient-ceph.xml", "usage-none.xml", "legacy-volume-under-secret.xml", "first-element-wins.xml"]) {
      expect(validationError(readFileSync(ROUNDTRIP + f, "utf8")).codeName, f).to.equal("XML_INVALID_SCHEMA");
    }
  });

  it("rejects a name with a newline and an unknown attribute", () => {
    expect(validationError("<secret><usage type='tls'><name>a&#10;b</name></usage></secret>").message).to.contain(
      "Extra element usage in interleave",
    );
    expect(validationError("<secret foo='1'/>").message).to.contain("Invalid attribute foo for element secret");
  });

  it("reports malformed input, DOCTYPEs and a wrong root as parsing does", () => {
    expect(validationError("<secret>").codeName).to.equal("XML_DETAIL");
    expect(validationError("<!DOCTYPE secret [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><secret>&x;</secret>").codeName).to.equal("XML_DETAIL");
    const root = validationError("<secrets/>");
    expect(root.codeName).to.equal("XML_ERROR");
    expect(root.message).to.equal("XML error: expecting root element of 'secret', not 'secrets'");
  });

  it("stays usable after many validations (objects are disposed)", () => {
    for (let n = 0; n < 2000; n++) {
      validateSecretXML(`<secret><description>${n}</description></secret>`);
      if (n % 100 === 0) expect(() => validateSecretXML("<secret><bad/></secret>")).to.throw(VirError);
    }
  });
});
