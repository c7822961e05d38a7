// libvirt on-disk layout: export writes libvirt 9.0's files exactly; import
// follows §3.3's load rules, strict base64, and libvirt 12's .aes256cbc.
import { createDecipheriv, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cbc } from "@noble/ciphers/aes.js";
import { expect } from "chai";
import { ListAllFlags } from "../../../src/secret/api.js";
import { decryptAes256cbc, exportLibvirtDir, importLibvirtDir } from "../../../src/secret/libvirt-dir.js";
import { Roots, U1, U2, U3, dec, enc, expectVirError, secretXML } from "./helpers.js";

/** libvirt 12's .aes256cbc content, made with @noble/ciphers (independent of the node:crypto decrypt). */
function aesFile(key: Uint8Array, value: Uint8Array): string {
  const iv = randomBytes(16);
  const ct = cbc(key, iv).encrypt(value); // PKCS#7 padding by default
  return Buffer.concat([iv, ct]).toString("base64");
}

describe("secret/libvirt-dir", function () {
  const roots = new Roots();
  afterEach(() => roots.cleanup());

  it("export writes libvirt 9.0's layout and import restores it", async () => {
    const drv = await roots.open();
    const a = await drv.defineXML(secretXML({ uuid: U1, private: true, usage: ["ceph", "client.admin"], description: "a &amp; b" }));
    await a.setValue(enc("hello"));
    await drv.defineXML(secretXML({ uuid: U2, usage: ["volume", "/pool/v.img"] }));
    const e = await drv.defineXML(secretXML({ uuid: U3, ephemeral: true }));
    await e.setValue(enc("not exported"));
    const out = join(await roots.dir(), "etc", "secrets");
    const report = await exportLibvirtDir(drv, out);
    expect(report.map((r) => r.uuid)).to.deep.equal([U1, U2]);
    expect(report[0]!.base64).to.equal(join(out, `${U1}.base64`));
    expect(report[1]!.base64).to.equal(undefined);

    expect((await readdir(out)).sort()).to.deep.equal([`${U1}.base64`, `${U1}.xml`, `${U2}.xml`]);
    expect(await readFile(join(out, `${U1}.base64`), "utf8")).to.equal("aGVsbG8=");
    expect(await readFile(join(out, `${U1}.xml`), "utf8")).to.equal(a.getXMLDesc());
    expect(await readFile(join(out, `${U2}.xml`), "utf8")).to.equal(drv.lookupByUUID(U2).getXMLDesc());
    expect((await stat(out)).mode & 0o777).to.equal(0o700);
    for (const f of await readdir(out)) expect((await stat(join(out, f))).mode & 0o777, f).to.equal(0o600);

    const other = await roots.open();
    const imported = await importLibvirtDir(other, out);
    expect(imported.map((r) => [r.file, r.status, r.value])).to.deep.equal([
      [`${U1}.xml`, "imported", "base64"],
      [`${U2}.xml`, "imported", "none"],
    ]);
    expect(other.listSecrets(10)).to.deep.equal([U1, U2]);
    expect(other.lookupByUUID(U1).getXMLDesc()).to.equal(a.getXMLDesc());
    expect(dec(await other.elevated().getValue(U1))).to.equal("hello");
    // exporting again over the same dir gives the same bytes
    await exportLibvirtDir(other, out);
    expect(await readFile(join(out, `${U1}.base64`), "utf8")).to.equal("aGVsbG8=");
  });

  it("export removes a stale .base64 of a secret without value", async () => {
    const drv = await roots.open();
    await drv.defineXML(secretXML({ uuid: U2 }));
    const out = await roots.dir();
    await writeFile(join(out, `${U2}.base64`), "b2xk");
    const report = await exportLibvirtDir(drv, out);
    expect(report[0]!.removedStaleValue).to.equal(true);
    expect((await readdir(out)).sort()).to.deep.equal([`${U2}.xml`]);
  });

  it("import applies libvirt's load rules and reports every skipped file", async () => {
    const dir = await roots.dir();
    await writeFile(join(dir, `${U1}.xml`), secretXML({ uuid: U1, usage: ["tls", "t1"] }));
    await writeFile(join(dir, `${U1}.base64`), "dmFsdWU=\n"); // trailing newline is fine
    await writeFile(join(dir, "foo.xml"), secretXML({ uuid: U2 }));
    const upper = "abcdefab-cdef-abcd-efab-cdefabcdefab";
    await writeFile(join(dir, `${upper.toUpperCase()}.xml`), secretXML({ uuid: upper }));
    const garbage = "44444444-5555-6666-7777-888888888888";
    await writeFile(join(dir, `${garbage}.xml`), secretXML({ uuid: garbage }));
    await writeFile(join(dir, `${garbage}.base64`), "!!!not base64***");
    const broken = "55555555-6666-7777-8888-999999999999";
    await writeFile(join(dir, `${broken}.xml`), "<secret>");
    const eph = "66666666-7777-8888-9999-aaaaaaaaaaaa";
    await writeFile(join(dir, `${eph}.xml`), secretXML({ uuid: eph, ephemeral: true }));
    await writeFile(join(dir, "77777777-8888-9999-aaaa-bbbbbbbbbbbb.base64"), "b3JwaGFu"); // no .xml: ignored
    const dup = "88888888-9999-aaaa-bbbb-cccccccccccc";
    await writeFile(join(dir, `${dup}.xml`), secretXML({ uuid: dup, usage: ["tls", "t1"] }));
    const dirValue = "99999999-aaaa-bbbb-cccc-dddddddddddd";
    await writeFile(join(dir, `${dirValue}.xml`), secretXML({ uuid: dirValue }));
    await mkdir(join(dir, `${dirValue}.base64`));

    const drv = await roots.open();
    const report = await importLibvirtDir(drv, dir);
    const by = new Map(report.map((r) => [r.file, r]));
    expect(by.get(`${U1}.xml`)).to.deep.include({ status: "imported", value: "base64" });
    expect(by.get(`${eph}.xml`)).to.deep.include({ status: "imported" });
    expect(by.get("foo.xml")!.message).to.equal(`Error reading secret: internal error: <uuid> does not match secret file name 'foo.xml'`);
    expect(by.get(`${upper.toUpperCase()}.xml`)!.message).to.equal(`Error reading secret: internal error: <uuid> does not match secret file name '${upper.toUpperCase()}.xml'`);
    expect(by.get(`${garbage}.xml`)!.message).to.equal(`Error reading secret: invalid argument: invalid base64 in '${join(dir, `${garbage}.base64`)}'`);
    expect(by.get(`${broken}.xml`)!.status).to.equal("skipped");
    expect(by.get(`${broken}.xml`)!.message).to.match(new RegExp(`^Error reading secret: .*${broken}\\.xml:1:`));
    expect(by.get(`${dup}.xml`)!.message).to.equal(`Error reading secret: internal error: a secret with UUID ${U1} already defined for use with t1`);
    expect(by.get(`${dirValue}.xml`)!.message).to.equal(`Error reading secret: cannot read '${join(dir, `${dirValue}.base64`)}'`);
    expect(report).to.have.length(8);
    expect(drv.listSecrets(20)).to.deep.equal([U1, eph]);
    expect(drv.listAll(ListAllFlags.EPHEMERAL).map((h) => h.uuid)).to.deep.equal([eph]);
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("value");
  });

  it("imports libvirt 12's .aes256cbc values with the key", async () => {
    const key = randomBytes(32);
    const dir = await roots.dir();
    const value = enc("sixteen bytes!!!"); // exactly one block: a full padding block follows
    await writeFile(join(dir, `${U1}.xml`), secretXML({ uuid: U1, private: true }));
    await writeFile(join(dir, `${U1}.aes256cbc`), aesFile(key, value));
    await writeFile(join(dir, `${U2}.xml`), secretXML({ uuid: U2 }));
    await writeFile(join(dir, `${U2}.aes256cbc`), aesFile(key, enc("a\0b")));

    const noKey = await roots.open();
    const r0 = await importLibvirtDir(noKey, dir);
    expect(r0.every((r) => r.status === "skipped" && /no secrets-encryption-key was given/.test(r.message!))).to.equal(true);

    const wrong = await roots.open();
    const r1 = await importLibvirtDir(wrong, dir, { aes256cbcKey: randomBytes(32) });
    // a wrong key almost always breaks the padding; never a silent garbage value
    for (const r of r1) {
      if (r.status === "imported") expect(dec(await wrong.elevated().getValue(r.uuid!))).to.not.equal("sixteen bytes!!!");
    }

    const drv = await roots.open();
    const r2 = await importLibvirtDir(drv, dir, { aes256cbcKey: key });
    expect(r2.map((r) => [r.status, r.value])).to.deep.equal([["imported", "aes256cbc"], ["imported", "aes256cbc"]]);
    expect(dec(await drv.elevated().getValue(U1))).to.equal("sixteen bytes!!!");
    expect([...(await drv.lookupByUUID(U2).getValue())]).to.deep.equal([0x61, 0, 0x62]);
  });

  it("a .base64 beside an .aes256cbc wins, as in libvirt", async () => {
    const key = randomBytes(32);
    const dir = await roots.dir();
    await writeFile(join(dir, `${U1}.xml`), secretXML({ uuid: U1 }));
    await writeFile(join(dir, `${U1}.aes256cbc`), aesFile(key, enc("from-aes")));
    await writeFile(join(dir, `${U1}.base64`), Buffer.from("from-b64").toString("base64"));
    const drv = await roots.open();
    const r = await importLibvirtDir(drv, dir, { aes256cbcKey: key });
    expect(r[0]!.value).to.equal("base64");
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("from-b64");
  });

  it("decryptAes256cbc errors", async () => {
    const key = randomBytes(32);
    await expectVirError(() => decryptAes256cbc("AAAA", key, "f"), "INVALID_SECRET", "Invalid secret: Encrypted secret size '3' is invalid");
    await expectVirError(() => decryptAes256cbc(aesFile(key, enc("x")), new Uint8Array(16), "f"), "INVALID_ARG", "invalid argument: Encryption key length must be '32'");
    const tampered = Buffer.from(aesFile(key, enc("x")), "base64");
    tampered[tampered.length - 1]! ^= 0xff;
    await expectVirError(() => decryptAes256cbc(tampered.toString("base64"), key, "f"), "INVALID_SECRET", "Invalid secret: cannot decrypt 'f': wrong key or corrupt data");
  });

  it("decryptAes256cbc wipes the blocks it decrypted when the padding check then fails", async () => {
    const key = randomBytes(32);
    const value = enc("a three-block secret value, 40 bytes long"); // blocks 1-2 come out of update()
    const tampered = Buffer.from(aesFile(key, value), "base64");
    tampered[tampered.length - 1]! ^= 0xff;
    // SPY on the decipher's update(): keep the plaintext buffers it hands out
    const proto = Object.getPrototypeOf(createDecipheriv("aes-256-cbc", key, randomBytes(16))) as { update: (...a: unknown[]) => Buffer };
    const own = Object.getOwnPropertyDescriptor(proto, "update");
    const real = proto.update;
    const made: Buffer[] = [];
    proto.update = function (this: unknown, ...a: unknown[]) {
      const out = real.apply(this, a);
      made.push(out);
      return out;
    };
    try {
      await expectVirError(() => decryptAes256cbc(tampered.toString("base64"), key, "f"), "INVALID_SECRET", /wrong key or corrupt data/);
    } finally {
      if (own !== undefined) Object.defineProperty(proto, "update", own);
      else delete (proto as { update?: unknown }).update;
    }
    expect(made.length).to.equal(1);
    expect(made[0]!.length).to.equal(32);
    expect(made[0]!.every((x) => x === 0), "the decrypted blocks are still in memory").to.equal(true);
  });
});
