// Issue 2, acceptance 6: `export-libvirt` output works as a real libvirt 9.0
// embed root's etc/secrets, and `import-libvirt` of a directory real virsh
// wrote restores every secret and value.
import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { openSecretDriver } from "../../../src/index.js";
import { expectSame, ours, virsh } from "./harness.js";

const FIX = fileURLToPath(new URL("../../../../shared/fixtures/libvirt/secret/secretxml2xmlin/", import.meta.url));
const TLS = "f52a81b2-424e-490c-823d-6bd4235bc572";
const VTPM = "aa6c7af2-45a7-477c-85a2-fe86d9f2514e";
const ISCSI = "27f25d34-aea6-4e2a-be85-fa2c18380be8";
const SPACE = "f52a81b2-424e-490c-823d-6bd4235bc573";
const EPH = "22e1353d-c27e-4d6d-bf15-465053e6ba0b";

describe("virsh interop: libvirt's on-disk secrets directory", function () {
  this.timeout(120000);
  let work: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), "virsecret-libvirt-dir-"));
    writeFileSync(join(work, "hello"), "aGVsbG8=");
    writeFileSync(join(work, "nul"), Buffer.from("x\0y\n", "latin1"));
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it("export-libvirt → real virsh lists, dumps and reads every persistent secret", async () => {
    const oUri = `secret:///embed?root=${join(work, "ours-export")}`;
    const libvirtRoot = join(work, "libvirt-from-export");
    const drv = await openSecretDriver({ uri: oUri });
    try {
      const run = (args: string[]) => ours(oUri, args, { driver: drv });
      for (const f of ["usage-tls.xml", "usage-vtpm.xml", "usage-ceph-space.xml", "ephemeral-usage-volume.xml"]) {
        expect((await run(["secret-define", join(FIX, f)])).code, f).to.equal(0);
      }
      await run(["secret-set-value", TLS, "--file", join(work, "hello")]);
      await run(["secret-set-value", VTPM, "--file", join(work, "nul"), "--plain"]);
      await run(["secret-set-value", EPH, "--file", join(work, "hello")]);
      const e = await run(["export-libvirt", join(libvirtRoot, "etc", "secrets")]);
      expect(e.code, e.err).to.equal(0);

      const vUri = `secret:///embed?root=${libvirtRoot}`;
      // the same list as ours without the ephemeral secret, which is never exported
      expectSame(virsh(vUri, ["secret-list"]), await run(["secret-list", "--no-ephemeral"]), "secret-list");
      for (const u of [TLS, VTPM, SPACE]) expectSame(virsh(vUri, ["secret-dumpxml", u]), await run(["secret-dumpxml", u]), `dumpxml ${u}`);
      expectSame(virsh(vUri, ["secret-get-value", TLS]), await run(["secret-get-value", TLS]), "get-value");
      expectSame(virsh(vUri, ["secret-get-value", SPACE]), await run(["secret-get-value", SPACE]), "private, no value", [
        "private-get-value-embedded",
      ]);
      // private: virsh embedded cannot read it (deviation private-get-value-embedded) ...
      expectSame(virsh(vUri, ["secret-get-value", VTPM]), await run(["secret-get-value", VTPM]), "private", [
        "private-get-value-embedded",
      ]);
      // ... so check the exported value file: exactly libvirt's base64, no newline
      expect(readFileSync(join(libvirtRoot, "etc", "secrets", `${VTPM}.base64`), "utf8")).to.equal(
        Buffer.from("x\0y\n", "latin1").toString("base64"),
      );
      // and libvirt can go on using the exported store
      expect(virsh(vUri, ["secret-set-value", TLS, "--file", join(work, "hello")]).code).to.equal(0);
    } finally {
      await drv.close();
    }
  });

  it("a directory real virsh wrote → import-libvirt restores every secret and value", async () => {
    const libvirtRoot = join(work, "libvirt-source");
    const vUri = `secret:///embed?root=${libvirtRoot}`;
    for (const f of ["usage-ceph.xml", "usage-iscsi.xml", "usage-vtpm.xml", "usage-ceph-space.xml"]) {
      expect(virsh(vUri, ["secret-define", join(FIX, f)]).code, f).to.equal(0);
    }
    const pub = join(work, "pub.xml");
    writeFileSync(pub, "<secret private='no'><uuid>0be3af32-8147-49e6-8b5c-ca39eedb8039</uuid><usage type='volume'><volume>/i/a.img</volume></usage></secret>");
    expect(virsh(vUri, ["secret-define", pub]).code).to.equal(0);
    const values: Record<string, Buffer> = {
      [TLS]: Buffer.from("hello"),
      [ISCSI]: Buffer.from("x\0y\n", "latin1"),
      [VTPM]: Buffer.from("hello"),
      "0be3af32-8147-49e6-8b5c-ca39eedb8039": Buffer.from("x\0y\n", "latin1"),
    };
    expect(virsh(vUri, ["secret-set-value", TLS, "--file", join(work, "hello")]).code).to.equal(0);
    expect(virsh(vUri, ["secret-set-value", ISCSI, "--file", join(work, "nul"), "--plain"]).code).to.equal(0);
    expect(virsh(vUri, ["secret-set-value", VTPM, "--file", join(work, "hello")]).code).to.equal(0);
    expect(virsh(vUri, ["secret-set-value", "0be3af32-8147-49e6-8b5c-ca39eedb8039", "--file", join(work, "nul"), "--plain"]).code).to.equal(0);

    const oUri = `secret:///embed?root=${join(work, "ours-import")}`;
    const i = await ours(oUri, ["import-libvirt", join(libvirtRoot, "etc", "secrets")]);
    expect(i.code, i.err).to.equal(0);
    expect(i.out.split("\n").filter((l) => l.startsWith("Secret "))).to.have.length(5);

    expectSame(virsh(vUri, ["secret-list"]), await ours(oUri, ["secret-list"]), "secret-list");
    for (const u of [TLS, ISCSI, VTPM, SPACE, "0be3af32-8147-49e6-8b5c-ca39eedb8039"]) {
      expectSame(virsh(vUri, ["secret-dumpxml", u]), await ours(oUri, ["secret-dumpxml", u]), `dumpxml ${u}`);
    }
    // the one non-private secret reads back the same through both
    expectSame(
      virsh(vUri, ["secret-get-value", "0be3af32-8147-49e6-8b5c-ca39eedb8039", "--plain"]),
      await ours(oUri, ["secret-get-value", "0be3af32-8147-49e6-8b5c-ca39eedb8039", "--plain"]),
      "public value",
    );
    // private values: through the elevated handle, byte for byte
    const drv = await openSecretDriver({ uri: oUri });
    try {
      for (const [u, want] of Object.entries(values)) {
        expect(Buffer.from(await drv.elevated().getValue(u)).equals(want), u).to.equal(true);
      }
      expectSame(virsh(vUri, ["secret-get-value", SPACE]), await ours(oUri, ["secret-get-value", SPACE], { driver: drv }), "no value", [
        "private-get-value-embedded",
      ]);
    } finally {
      await drv.close();
    }
  });
});
