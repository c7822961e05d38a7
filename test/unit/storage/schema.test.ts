// schemas/storagevol.rng (our own grammar): every libvirt fixture volume and
// everything formatVolumeXML prints validates; typical mistakes do not.
// Checked with libxml2's RelaxNG engine (libxml2-wasm), as validate.ts does.
import { readdirSync, readFileSync } from "node:fs";
import { expect } from "chai";
import { RelaxNGValidator, XmlDocument, XmlLibError, ParseOption } from "libxml2-wasm";
import { formatVolumeXML, parseVolumeXML } from "../../../src/xml/volume.js";

const SCHEMA = new URL("../../../schemas/storagevol.rng", import.meta.url);
const FIXTURES = new URL("fixtures/libvirt/", import.meta.url);

describe("schemas/storagevol.rng", () => {
  let validator: RelaxNGValidator;
  before(() => {
    const rng = XmlDocument.fromString(readFileSync(SCHEMA, "utf8"), { option: ParseOption.XML_PARSE_NONET });
    try {
      validator = RelaxNGValidator.fromDoc(rng);
    } finally {
      rng.dispose();
    }
  });
  after(() => validator.dispose());

  /** null when valid, else libxml2's first message */
  function check(xml: string): string | null {
    const doc = XmlDocument.fromString(xml, { option: ParseOption.XML_PARSE_NONET });
    try {
      validator.validate(doc);
      return null;
    } catch (e) {
      if (!(e instanceof XmlLibError)) throw e;
      return e.details[0]?.message ?? e.message;
    } finally {
      doc.dispose();
    }
  }

  for (const dir of ["xmlin", "xmlout"]) {
    it(`accepts every libvirt ${dir} fixture and our formatting of it`, () => {
      for (const f of readdirSync(new URL(dir, FIXTURES))) {
        const xml = readFileSync(new URL(`${dir}/${f}`, FIXTURES), "utf8");
        expect(check(xml), `${dir}/${f}`).to.equal(null);
        const ours = formatVolumeXML(parseVolumeXML(xml, { capacity: "optional" }));
        expect(check(ours), `formatted ${dir}/${f}`).to.equal(null);
      }
    });
  }

  const base = (target: string, name = "v.img"): string =>
    `<volume><name>${name}</name><capacity unit='G'>1</capacity><target><path>/srv/pool/v.img</path>${target}</target></volume>`;

  it("accepts an encryption without a secret (virsecret generates one) and one by usage", () => {
    expect(check(base("<format type='raw'/><encryption format='luks'/>"))).to.equal(null);
    expect(check(base("<format type='qcow2'/><encryption format='luks'><secret type='passphrase' usage='/srv/pool/v.img'/></encryption>"))).to.equal(null);
  });

  const bad: Array<[string, string]> = [
    ["unknown image format", base("<format type='zip'/>")],
    ["unknown encryption format", base("<encryption format='bogus'/>")],
    ["encryption without format", base("<encryption/>")],
    ["engine='default'", base("<encryption format='luks' engine='default'/>")],
    ["two secrets", base("<encryption format='luks'><secret type='passphrase' usage='a'/><secret type='passphrase' usage='b'/></encryption>")],
    ["secret with uuid and usage", base(`<encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572' usage='a'/></encryption>`)],
    ["secret type volume", base("<encryption format='luks'><secret type='volume' usage='a'/></encryption>")],
    ["bad secret uuid", base("<encryption format='luks'><secret type='passphrase' uuid='bad-uuid'/></encryption>")],
    ["cipher without size", base("<encryption format='luks'><cipher name='aes'/></encryption>")],
    ["name with a slash", base("", "../etc/passwd")],
    ["name '..'", base("", "..")],
    ["relative target path", "<volume><name>v</name><target><path>v.img</path></target></volume>"],
    ["unknown unit", "<volume><name>v</name><capacity unit='X'>1</capacity><target/></volume>"],
    ["negative capacity", "<volume><name>v</name><capacity>-1</capacity><target/></volume>"],
    ["no target", "<volume><name>v</name></volume>"],
    ["compat not n.n", base("<compat>1</compat>")],
    ["unknown feature", base("<features><turbo/></features>")],
    ["bad mode", base("<permissions><mode>0999</mode></permissions>")],
  ];
  for (const [label, xml] of bad) {
    it(`refuses: ${label}`, () => {
      expect(check(xml)).to.be.a("string");
    });
  }
});
