// exportLibvirtDir and key-bound secrets: the definition is exported, the value
// (the keystore's key) is not, the keystore is never asked, and a stale value
// file is removed so libvirt cannot load an old value for the secret.
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import type { Context } from "../../../src/keystore/key-manager.js";
import { openSecretDriver } from "../../../src/secret/driver.js";
import { exportLibvirtDir } from "../../../src/secret/libvirt-dir.js";
import { embedURI } from "../../../src/secret/uri.js";
import { U1, U2, enc, secretXML } from "../secret/helpers.js";
import { Base, filesContaining } from "./helpers.js";

const tenant: Context = { user: "alice", project: "tenant-a" };

describe("export-libvirt of key-bound secrets", () => {
  const base = new Base();
  beforeEach(() => base.init());
  afterEach(() => base.cleanup());

  it("exports the definition without the value, asks no keystore, removes a stale value file", async () => {
    const km = await base.keystore();
    const keyId = await km.createKey(tenant);
    const key = (await km.getKey(tenant, keyId)).value!;
    let reads = 0;
    const counting = Object.assign(Object.create(km) as typeof km, {
      getKey: (...a: Parameters<typeof km.getKey>) => {
        reads++;
        return km.getKey(...a);
      },
    });
    const drv = base.track(await openSecretDriver({ uri: embedURI(base.root("host")), keystores: { "ks": counting } }));
    await drv.defineXML(secretXML({ uuid: U1, usage: ["volume", "/v/1"] }));
    await drv.lookupByUUID(U1).setValue(enc("own-value"));
    await drv.defineXML(secretXML({ uuid: U2, private: true }));
    await drv.bindKey(U2, { keystore: "ks", keyId, context: tenant });
    const out = base.root("etc-secrets");
    await exportLibvirtDir(drv, out);
    await writeFile(join(out, `${U2}.base64`), "c3RhbGU=");
    reads = 0;
    await km.deleteKey(tenant, keyId); // a deleted key must not fail the export
    const report = await exportLibvirtDir(drv, out);
    expect(reads).to.equal(0);
    const byUuid = Object.fromEntries(report.map((r) => [r.uuid, r]));
    expect(byUuid[U2]).to.deep.equal({ uuid: U2, xml: join(out, `${U2}.xml`), removedStaleValue: true, boundKey: { keystore: "ks", keyId } });
    expect(byUuid[U1]!.base64).to.equal(join(out, `${U1}.base64`));
    expect((await readdir(out)).sort()).to.deep.equal([`${U1}.base64`, `${U1}.xml`, `${U2}.xml`].sort());
    expect(await readFile(join(out, `${U2}.xml`), "utf8")).to.equal(drv.lookupByUUID(U2).getXMLDesc());
    for (const needle of [key, enc(Buffer.from(key).toString("hex")), enc(Buffer.from(Buffer.from(key).toString("hex")).toString("base64"))]) {
      expect(await filesContaining(out, needle)).to.deep.equal([]);
    }
  });
});
