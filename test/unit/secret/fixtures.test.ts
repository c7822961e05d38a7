// libvirt's secretxml2xml fixtures round-trip byte-identical through the driver
// (define, then getXMLDesc), each in a fresh root since two share a uuid.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { Roots } from "./helpers.js";

const DIR = new URL("../../../../shared/fixtures/libvirt/secret/secretxml2xmlin/", import.meta.url).pathname;

describe("secret/driver: libvirt fixtures round-trip", function () {
  const roots = new Roots();
  after(() => roots.cleanup());

  it("every fixture defines and dumps byte-identical", async () => {
    const files = (await readdir(DIR)).filter((f) => f.endsWith(".xml")).sort();
    expect(files).to.have.length(7);
    for (const f of files) {
      const xml = await readFile(join(DIR, f), "utf8");
      const drv = await roots.open();
      const h = await drv.defineXML(xml, 1);
      expect(h.getXMLDesc(), f).to.equal(xml);
      expect(drv.lookupByUUID(h.uuid).getXMLDesc(), f).to.equal(xml);
      await drv.close();
    }
  });

  it("virsecret's own round-trip fixtures dump as libvirt 9.0 wrote them", async () => {
    const own = new URL("../../../fixtures/secret/roundtrip/", import.meta.url).pathname;
    const inputs = (await readdir(own)).filter((f) => f.endsWith(".xml")).sort();
    expect(inputs.length).to.be.greaterThan(0);
    const drv = await roots.open();
    for (const f of inputs) {
      const out = await readFile(join(own, f.replace(/\.xml$/, ".out")), "utf8");
      const h = await drv.defineXML(await readFile(join(own, f), "utf8"));
      expect(h.getXMLDesc(), f).to.equal(out);
      await h.undefine();
    }
  });
});
