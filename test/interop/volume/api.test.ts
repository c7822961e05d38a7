// The volume driver with the REAL qemu-img / qemu-io / cryptsetup: raw-LUKS and
// qcow2-LUKS volumes with generated and supplied secrets, the key check against
// a wrong passphrase, scenarios 1, 3, 6 and 7 (BYOK with the local keystore,
// keys per tenant) and a keystore failing right after copyKey.
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { KeyNotFound, type Context } from "../../../src/keystore/key-manager.js";
import { LocalKeyManager } from "../../../src/keystore/local.js";
import { openSecretDriver, type SecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { openVolumeDriver, type OpenVolumeDriverOptions, type VolumeDriver } from "../../../src/storage/volume-driver.js";
import { rejection } from "../../helpers/reject.js";
import { FaultInjectingKeyManager } from "../../unit/volume/fault-keystore.js";
import { expectCryptsetupAccepts, expectEncrypted, expectWriteRead, keyFile, opens } from "./tools.js";

const ALICE: Context = { user: "alice", project: "pa" };
const BOB: Context = { user: "bob", project: "pb" };
const U1 = "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

function volXML(name: string, format: "raw" | "qcow2", enc = "<encryption format='luks'/>"): string {
  return `<volume><name>${name}</name><capacity unit='MiB'>8</capacity><target><format type='${format}'/>${enc}</target></volume>`;
}

describe("interop/volume: volume driver with real qemu-img, qemu-io and cryptsetup", function () {
  this.timeout(120_000);
  let base: string;
  let root: string;
  let pool: string;
  let secretDir: string;
  let secrets: SecretDriver;
  let wrong: string;

  const open = (opts: Partial<OpenVolumeDriverOptions> = {}): Promise<VolumeDriver> =>
    openVolumeDriver({ secrets, pool, iterTimeMs: 10, secretFileDir: secretDir, timeoutMs: 60_000, ...opts });

  async function passphraseFile(vd: VolumeDriver, name: string): Promise<string> {
    const rec = (await vd.record(name))!;
    return keyFile(join(base, `${name}.key`), await secrets.elevated().getValue(rec.secretUuid!));
  }

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), "virsecret-vol-interop-"));
    root = join(base, "root");
    pool = join(base, "pool");
    secretDir = join(base, "secret-files");
    await mkdir(pool);
    await mkdir(secretDir);
    secrets = await openSecretDriver({ uri: embedURI(root) });
    wrong = await keyFile(join(base, "wrong.key"), "0".repeat(64));
  });
  afterEach(async () => {
    expect(await readdir(secretDir), "passphrase files left behind").to.deep.equal([]);
    await secrets.close();
    await rm(base, { recursive: true, force: true });
  });

  for (const format of ["raw", "qcow2"] as const) {
    it(`${format}-LUKS with a generated persistent secret: the tools open it, a wrong passphrase does not (scenario 1)`, async () => {
      const vd = await open();
      const name = format === "raw" ? "gen.img" : "gen.qcow2";
      await vd.createXML(volXML(name, format), { generateSecret: "persistent" });
      const path = join(pool, name);
      const key = await passphraseFile(vd, name);
      await expectEncrypted(format, path);
      const good = await opens(format, path, key);
      expect(good.code, good.stderr).to.equal(0);
      if (format === "qcow2") expect(good.stdout).to.contain("No errors were found on the image.");
      const bad = await opens(format, path, wrong);
      expect(bad.code).to.not.equal(0);
      expect(bad.stderr).to.contain("Invalid password, cannot unlock any keyslot");
      await expectWriteRead(format, path, key);
      if (format === "raw") await expectCryptsetupAccepts(path, key, wrong);

      // our key check really opens it: right secret yes, a changed value no
      const rec = (await vd.record(name))!;
      expect(await vd.keyCheck(name)).to.deep.equal({ ok: true, secretUuid: rec.secretUuid });

      // the app restarts; the agent reads the key from the local DB (scenario 1)
      await secrets.close();
      secrets = await openSecretDriver({ uri: embedURI(root) });
      const vd2 = await open();
      expect((await vd2.keyCheck(name)).ok).to.equal(true);
      await secrets.lookupByUUID(rec.secretUuid!).setValue(new TextEncoder().encode("not the passphrase"));
      expect(await vd2.keyCheck(name)).to.deep.equal({ ok: false, secretUuid: rec.secretUuid, reason: "Invalid password, cannot unlock any keyslot" });

      await vd2.delete(name);
      expect(await readdir(pool)).to.deep.equal([]);
      expect(secrets.listSecrets(10)).to.deep.equal([]);
    });
  }

  it("scenario 3: a passphrase the app set on an ephemeral secret, named by usage", async () => {
    const vd = await open();
    const path = join(pool, "app.qcow2");
    const value = new TextEncoder().encode("correct horse battery staple");
    await secrets.elevated().defineWithValue(
      `<secret ephemeral='yes' private='yes'><uuid>${U1}</uuid><usage type='volume'><volume>${path}</volume></usage></secret>`,
      value,
    );
    await vd.createXML(volXML("app.qcow2", "qcow2", `<encryption format='luks'><secret type='passphrase' usage='${path}'/></encryption>`));
    const key = await keyFile(join(base, "app.key"), value);
    await expectWriteRead("qcow2", path, key);
    expect((await vd.keyCheck("app.qcow2")).ok).to.equal(true);
    await vd.delete("app.qcow2");
    expect(secrets.listSecrets(10)).to.deep.equal([U1]); // the user's secret is left alone
  });

  it("scenario 6 (BYOK): the volume opens under the clone's hex; delete removes the clone, the original stays", async () => {
    const ks = new LocalKeyManager(secrets.store);
    const original = await ks.createKey(ALICE, { name: "alice's key" });
    const vd = await open({ keystore: ks, keystoreContext: ALICE });
    await vd.createXML(volXML("byok.img", "raw"), { keyId: original });
    const rec = (await vd.record("byok.img"))!;
    expect(rec.keyId).to.not.equal(original);
    expect(rec.ownsKey).to.equal(true);
    const clone = await ks.getKey(ALICE, rec.keyId!);
    const hex = Buffer.from(clone.value!).toString("hex");
    expect(hex).to.match(/^[0-9a-f]{64}$/);
    const path = join(pool, "byok.img");
    const key = await keyFile(join(base, "clone.key"), hex);
    const r = await opens("raw", path, key);
    expect(r.code, r.stderr).to.equal(0);
    await expectWriteRead("raw", path, key);
    await expectCryptsetupAccepts(path, key, wrong);
    // upper-case hex is another passphrase: the rule is lowercase
    const upper = await keyFile(join(base, "upper.key"), hex.toUpperCase());
    expect((await opens("raw", path, upper)).code).to.not.equal(0);

    await vd.delete("byok.img");
    expect(await rejection(ks.getKey(ALICE, rec.keyId!))).to.be.instanceOf(KeyNotFound);
    const still = await ks.getKey(ALICE, original);
    expect(Buffer.from(still.value!).toString("hex")).to.equal(hex);
    expect(await readdir(pool)).to.deep.equal([]);
    expect(secrets.listSecrets(10)).to.deep.equal([]);
  });

  it("scenario 7: user B cannot tell user A's key ids from random ids", async () => {
    const ks = new LocalKeyManager(secrets.store);
    const alices = await ks.createKey(ALICE);
    const vdA = await open({ keystore: ks, keystoreContext: ALICE });
    await vdA.createXML(volXML("a.qcow2", "qcow2"), { generateSecret: "persistent" });
    const aVolKey = (await vdA.record("a.qcow2"))!.keyId!;
    const vdB = await open({ keystore: ks, keystoreContext: BOB });
    const random = "3f2e1d0c-9b8a-4766-8554-433221100fed";
    const outcomes = [];
    for (const id of [alices, aVolKey, random]) {
      const e = await rejection(vdB.createXML(volXML("b.img", "raw"), { keyId: id }));
      outcomes.push({ cls: e.constructor.name, code: (e as KeyNotFound).code, msg: e.message.replace(id, "ID") });
      for (const op of [() => ks.getKey(BOB, id), () => ks.deleteKey(BOB, id), () => ks.copyKey(BOB, id)]) {
        const e2 = await rejection(op());
        outcomes.push({ cls: e2.constructor.name, code: (e2 as KeyNotFound).code, msg: e2.message.replace(id, "ID") });
      }
    }
    expect(new Set(outcomes.map((o) => JSON.stringify(o))).size).to.equal(1);
    expect(outcomes[0]).to.deep.equal({ cls: "KeyNotFound", code: "KEY_NOT_FOUND", msg: "Key not found, uuid: ID" });
    expect(await ks.listKeys(BOB)).to.deep.equal([]);
    expect(await readdir(pool)).to.deep.equal(["a.qcow2"]);
    expect((await vdA.keyCheck("a.qcow2")).ok).to.equal(true);
  });

  it("the keystore failing after copyKey leaves no clone, no secret, no file (fault-injecting wrapper)", async () => {
    const ks = new FaultInjectingKeyManager(new LocalKeyManager(secrets.store));
    const original = await ks.createKey(ALICE);
    const vd = await open({ keystore: ks, keystoreContext: ALICE });
    ks.failAfter("copyKey");
    const e = await rejection(vd.createXML(volXML("f.img", "raw"), { keyId: original }));
    expect(e.message).to.contain("injected fault");
    expect((await ks.listKeys(ALICE)).map((k) => k.id)).to.deep.equal([original]);
    expect(secrets.listSecrets(10)).to.deep.equal([]);
    expect(await readdir(pool)).to.deep.equal([]);
    const records = [];
    for await (const [k] of secrets.store.list("volumes", { secrets: false })) records.push(k);
    expect(records).to.deep.equal([]);
  });
});
