// src/xml/volume.ts: libvirt 9.0's storagevolxml2xml fixtures byte for byte,
// every <encryption> parse error of spec §5.1 (code and text), and the
// other volume-level parse rules.
import { expect } from "chai";
import { parseVolumeXML, formatVolumeXML } from "../../../src/xml/volume.js";
import { expectVirErrorSync, fixture } from "./helpers.js";

/** A minimal dir-pool volume whose <target> holds `inner`. */
function vol(inner: string, extra = ""): string {
  return `<volume>
  <name>v1.img</name>
  <capacity unit='M'>16</capacity>${extra}
  <target>
    <path>/srv/pool/v1.img</path>
    <format type='raw'/>
    ${inner}
  </target>
</volume>`;
}
const SECRET = "<secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>";

describe("xml/volume", () => {
  describe("libvirt's storagevolxml2xml fixtures", () => {
    // The four encryption cases the issue names, then the other fixtures of
    // the same test. libvirt's test parses these with VIR_VOL_XML_PARSE_NO_CAPACITY.
    const cases = [
      "vol-luks", "vol-luks-cipher", "vol-qcow2-luks", "vol-qcow2-encryption",
      "vol-qcow2", "vol-qcow2-1.1", "vol-qcow2-0.10-lazy", "vol-qcow2-lazy",
      "vol-qcow2-clusterSize", "vol-qcow2-nobacking", "vol-qcow2-nocapacity",
    ];
    for (const name of cases) {
      it(`${name}: output is byte-identical to xmlout`, () => {
        const def = parseVolumeXML(fixture(`xmlin/${name}.xml`), { capacity: "optional" });
        expect(formatVolumeXML(def)).to.equal(fixture(`xmlout/${name}.xml`));
      });
    }
    // vol-qcow2-nocow's expected output carries an empty <source> that the
    // dir-pool formatter never prints (libvirt formats it only for pools with
    // source extents); everything else in it must still match.
    it("vol-qcow2-nocow: matches xmlout apart from the empty <source> block, and <nocow/> is not printed", () => {
      const out = formatVolumeXML(parseVolumeXML(fixture("xmlin/vol-qcow2-nocow.xml")));
      expect(out).to.equal(fixture("xmlout/vol-qcow2-nocow.xml").replace("  <source>\n  </source>\n", ""));
    });

    it("formatting is a fixed point: parse(format(x)) formats the same", () => {
      for (const name of cases) {
        const once = formatVolumeXML(parseVolumeXML(fixture(`xmlin/${name}.xml`), { capacity: "optional" }));
        expect(formatVolumeXML(parseVolumeXML(once))).to.equal(once);
      }
    });

    it("reads the encryption fields into the definition", () => {
      const def = parseVolumeXML(fixture("xmlin/vol-luks-cipher.xml"));
      expect(def.capacity).to.equal(5n * 1024n ** 3n);
      expect(def.allocation).to.equal(294912n);
      expect(def.target.permissions).to.deep.equal({ mode: 0o644, owner: 0, group: 0, label: "unconfined_u:object_r:virt_image_t:s0" });
      expect(def.target.encryption).to.deep.equal({
        format: "luks",
        engine: "default",
        secrets: [{ type: "uuid", uuid: "f52a81b2-424e-490c-823d-6bd4235bc572" }],
        cipher: { name: "serpent", size: 256, mode: "cbc", hash: "sha256" },
        ivgen: { name: "plain64", hash: "sha256" },
      });
    });
  });

  describe("spec §5.1 <encryption> parse errors", () => {
    const rows: Array<[string, string, "XML_ERROR" | "CONFIG_UNSUPPORTED", string]> = [
      ["no format", `<encryption>${SECRET}</encryption>`, "XML_ERROR", "XML error: unknown volume encryption format"],
      ["empty format", `<encryption format=''>${SECRET}</encryption>`, "XML_ERROR", "XML error: unknown volume encryption format"],
      ["unknown format", `<encryption format='bogus'>${SECRET}</encryption>`, "CONFIG_UNSUPPORTED", "unsupported configuration: unknown volume encryption format type bogus"],
      ["invalid engine", `<encryption format='luks' engine='bogus'>${SECRET}</encryption>`, "XML_ERROR", "XML error: Invalid value for attribute 'engine' in element 'encryption': 'bogus'."],
      ["engine='default'", `<encryption format='luks' engine='default'>${SECRET}</encryption>`, "XML_ERROR", "XML error: Invalid value for attribute 'engine' in element 'encryption': 'default'."],
      ["secret without type", "<encryption format='luks'><secret uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption>", "XML_ERROR", "XML error: unknown volume encryption secret type"],
      ["secret type volume", "<encryption format='luks'><secret type='volume' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/></encryption>", "CONFIG_UNSUPPORTED", "unsupported configuration: unknown volume encryption secret type volume"],
      ["neither uuid nor usage", "<encryption format='luks'><secret type='passphrase'/></encryption>", "XML_ERROR", "XML error: missing secret uuid or usage attribute"],
      ["both uuid and usage", "<encryption format='luks'><secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572' usage='/srv/pool/v1.img'/></encryption>", "XML_ERROR", "XML error: either secret uuid or usage expected"],
      ["bad uuid", "<encryption format='luks'><secret type='passphrase' uuid='bad-uuid'/></encryption>", "XML_ERROR", "XML error: invalid secret uuid 'bad-uuid'"],
      ["cipher without name", `<encryption format='luks'>${SECRET}<cipher size='256'/></encryption>`, "XML_ERROR", "XML error: cipher info missing 'name' attribute"],
      ["cipher without size", `<encryption format='luks'>${SECRET}<cipher name='aes'/></encryption>`, "XML_ERROR", "XML error: Missing required attribute 'size' in element 'cipher'"],
      ["cipher size not a number", `<encryption format='luks'>${SECRET}<cipher name='aes' size='big'/></encryption>`, "XML_ERROR", "XML error: Invalid value for attribute 'size' in element 'cipher': 'big'. Expected non-negative integer value"],
      ["cipher size negative", `<encryption format='luks'>${SECRET}<cipher name='aes' size='-1'/></encryption>`, "XML_ERROR", "XML error: Invalid value for attribute 'size' in element 'cipher': '-1'. Expected non-negative integer value"],
      ["ivgen without cipher", `<encryption format='luks'>${SECRET}<ivgen name='plain64'/></encryption>`, "XML_ERROR", "XML error: ivgen element found, but cipher is missing"],
      ["ivgen without name", `<encryption format='luks'>${SECRET}<cipher name='aes' size='256'/><ivgen hash='sha256'/></encryption>`, "XML_ERROR", "XML error: missing ivgen info name string"],
    ];
    for (const [label, enc, code, message] of rows) {
      it(`${label} → ${message}`, () => {
        expectVirErrorSync(() => parseVolumeXML(vol(enc)), code, message);
      });
    }

    it("accepts any number of <secret> children at parse time (zero and two)", () => {
      expect(parseVolumeXML(vol("<encryption format='luks'/>")).target.encryption!.secrets).to.deep.equal([]);
      const two = parseVolumeXML(vol(`<encryption format='luks'>${SECRET}<secret type='passphrase' usage='/srv/pool/v1.img'/></encryption>`));
      expect(two.target.encryption!.secrets).to.have.length(2);
    });

    it("reads <cipher>/<ivgen> only for luks (a bad cipher under qcow is ignored)", () => {
      const def = parseVolumeXML(vol(`<encryption format='qcow'>${SECRET}<cipher/><ivgen/></encryption>`));
      expect(def.target.encryption).to.deep.equal({ format: "qcow", engine: "default", secrets: [{ type: "uuid", uuid: "f52a81b2-424e-490c-823d-6bd4235bc572" }] });
    });

    it("accepts a lenient uuid and prints it canonical", () => {
      const def = parseVolumeXML(vol("<encryption format='luks'><secret type='passphrase' uuid='F52A81B2424E490C823D6BD4235BC572'/></encryption>"));
      expect(formatVolumeXML(def)).to.contain("<secret type='passphrase' uuid='f52a81b2-424e-490c-823d-6bd4235bc572'/>");
    });
  });

  describe("encryption formatting", () => {
    it("an encryption with no children spans two lines; a non-default engine is printed; usage is escaped", () => {
      const empty = formatVolumeXML(parseVolumeXML(vol("<encryption format='luks'/>")));
      expect(empty).to.contain("    <encryption format='luks'>\n    </encryption>\n");
      const rbd = formatVolumeXML(parseVolumeXML(vol("<encryption format='luks' engine='librbd'><secret type='passphrase' usage=\"/a'b&amp;c\"/></encryption>")));
      expect(rbd).to.contain("    <encryption format='luks' engine='librbd'>\n      <secret type='passphrase' usage='/a&apos;b&amp;c'/>\n    </encryption>\n");
    });

    it("cipher without mode/hash and ivgen without hash print only what was given", () => {
      const out = formatVolumeXML(parseVolumeXML(vol(`<encryption format='luks'>${SECRET}<cipher name='aes' size='256'/><ivgen name='plain64'/></encryption>`)));
      expect(out).to.contain("      <cipher name='aes' size='256'/>\n      <ivgen name='plain64'/>\n");
    });
  });

  describe("other volume parse rules", () => {
    it("wrong root element", () => {
      expectVirErrorSync(() => parseVolumeXML("<secret/>"), "XML_ERROR", "XML error: expecting root element of 'volume', not 'secret'", "XML");
    });
    it("malformed XML names the volume document", () => {
      const e = expectVirErrorSync(() => parseVolumeXML("<volume>"), "XML_DETAIL", /^\(storage_volume_definition\):1: Premature end of data in tag volume line 1/);
      expect(e.detail).to.contain("^");
    });
    it("DOCTYPE is refused", () => {
      expectVirErrorSync(() => parseVolumeXML("<!DOCTYPE volume [<!ENTITY x 'y'>]><volume/>"), "XML_DETAIL", /DOCTYPE/);
    });
    it("missing or empty name", () => {
      expectVirErrorSync(() => parseVolumeXML("<volume><capacity>1</capacity></volume>"), "XML_ERROR", "XML error: missing volume name element");
      expectVirErrorSync(() => parseVolumeXML("<volume><name></name><capacity>1</capacity></volume>"), "XML_ERROR", "XML error: missing volume name element");
    });
    it("missing capacity: an error unless a backing store is given (vol-create) or allowed", () => {
      expectVirErrorSync(() => parseVolumeXML("<volume><name>a</name></volume>"), "XML_ERROR", "XML error: missing capacity element");
      expect(parseVolumeXML(fixture("xmlin/vol-qcow2-nocapacity-backing.xml")).capacity).to.equal(0n);
      expectVirErrorSync(() => parseVolumeXML(fixture("xmlin/vol-qcow2-nocapacity-backing.xml"), { capacity: "required" }), "XML_ERROR", "XML error: missing capacity element");
      expect(parseVolumeXML("<volume><name>a</name></volume>", { capacity: "optional" }).capacity).to.equal(0n);
    });
    it("malformed, negative, unknown-unit and too large sizes", () => {
      const cap = (c: string): string => `<volume><name>a</name>${c}</volume>`;
      expectVirErrorSync(() => parseVolumeXML(cap("<capacity>12x</capacity>")), "XML_ERROR", "XML error: malformed capacity element");
      expectVirErrorSync(() => parseVolumeXML(cap("<capacity>-5</capacity>")), "XML_ERROR", "XML error: malformed capacity element");
      expectVirErrorSync(() => parseVolumeXML(cap("<capacity>1</capacity><allocation>1.5</allocation>")), "XML_ERROR", "XML error: malformed capacity element");
      expectVirErrorSync(() => parseVolumeXML(cap("<capacity unit='X'>1</capacity>")), "INVALID_ARG", "invalid argument: unknown suffix 'X'");
      expectVirErrorSync(() => parseVolumeXML(cap("<capacity unit='EiB'>8</capacity>")), "OVERFLOW", "numerical overflow: value too large: 8EiB");
      expect(parseVolumeXML(cap("<capacity unit='EiB'>7</capacity>")).capacity).to.equal(7n << 60n);
    });
    it("allocation defaults to capacity", () => {
      const def = parseVolumeXML("<volume><name>a</name><capacity unit='KB'>3</capacity></volume>");
      expect(def.allocation).to.equal(3000n);
      expect(def.hasAllocation).to.equal(false);
    });
    it("unknown volume type and unknown target / backing formats", () => {
      expectVirErrorSync(() => parseVolumeXML("<volume type='tape'><name>a</name><capacity>1</capacity></volume>"), "INTERNAL_ERROR", "internal error: unknown volume type 'tape'");
      expectVirErrorSync(() => parseVolumeXML(vol("").replace("type='raw'", "type='zip'")), "XML_ERROR", "XML error: unknown volume format type zip");
      expectVirErrorSync(() => parseVolumeXML(vol("").replace("type='raw'", "type='none'")), "XML_ERROR", "XML error: unknown volume format type none");
      expectVirErrorSync(
        () => parseVolumeXML(vol("", "\n<backingStore><path>/b</path><format type='zip'/></backingStore>")),
        "XML_ERROR", "XML error: unknown volume format type zip",
      );
    });
    it("format defaults to raw; other file formats are kept for the create rules", () => {
      expect(parseVolumeXML("<volume><name>a</name><capacity>1</capacity></volume>").target.format).to.equal("raw");
      expect(parseVolumeXML(vol("").replace("type='raw'", "type='vmdk'")).target.format).to.equal("vmdk");
    });
    it("permissions: malformed mode, owner and group", () => {
      const perms = (p: string): string => vol(`<permissions>${p}</permissions>`);
      expectVirErrorSync(() => parseVolumeXML(perms("<mode>0999</mode>")), "XML_ERROR", "XML error: malformed octal mode");
      expectVirErrorSync(() => parseVolumeXML(perms("<mode>01777</mode>")), "XML_ERROR", "XML error: malformed octal mode");
      expectVirErrorSync(() => parseVolumeXML(perms("<owner>root</owner>")), "XML_ERROR", "XML error: malformed owner element");
      expectVirErrorSync(() => parseVolumeXML(perms("<group>-2</group>")), "XML_ERROR", "XML error: malformed group element");
      const def = parseVolumeXML(perms("<mode>0</mode><owner>-1</owner><group> 107 </group>"));
      expect(def.target.permissions).to.deep.equal({ mode: 0, group: 107 });
      expect(formatVolumeXML(def)).to.contain("<permissions>\n      <mode>00</mode>\n      <group>107</group>\n    </permissions>");
    });
    it("compat must be <number>.<number>", () => {
      expectVirErrorSync(() => parseVolumeXML(vol("<compat>1.x</compat>")), "XML_ERROR", "XML error: forbidden characters in 'compat' attribute");
      expectVirErrorSync(() => parseVolumeXML(vol("<compat>1</compat>")), "XML_ERROR", "XML error: forbidden characters in 'compat' attribute");
      expectVirErrorSync(() => parseVolumeXML(vol("<compat>1.1.1</compat>")), "XML_ERROR", "XML error: forbidden characters in 'compat' attribute");
    });
    it("unknown feature", () => {
      expectVirErrorSync(() => parseVolumeXML(vol("<features><turbo/></features>")), "CONFIG_UNSUPPORTED", "unsupported configuration: unsupported feature turbo");
    });
    it("clusterSize: bad value and unit scaling", () => {
      expectVirErrorSync(() => parseVolumeXML(vol("<clusterSize>big</clusterSize>")), "XML_ERROR", "XML error: Invalid value 'big' for element or attribute 'string(./target/clusterSize)'");
      expect(parseVolumeXML(vol("<clusterSize unit='KiB'>64</clusterSize>")).target.clusterSize).to.equal(65536n);
    });
    it("escapes name, key, path and label on output", () => {
      const def = parseVolumeXML("<volume><name>a&amp;b&lt;</name><key>k'</key><capacity>1</capacity><target><path>/p\"</path><permissions><label>l&gt;</label></permissions></target></volume>");
      const out = formatVolumeXML(def);
      expect(out).to.contain("<name>a&amp;b&lt;</name>");
      expect(out).to.contain("<key>k&apos;</key>");
      expect(out).to.contain("<path>/p&quot;</path>");
      expect(out).to.contain("<label>l&gt;</label>");
    });
  });
});
