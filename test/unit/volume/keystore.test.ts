// Volumes with a keystore (the local backend, in the same root), MOCK qemu-img:
// generated passphrases from createKey, bring your own key (copyKey), owned keys
// deleted with the volume, keys per tenant, and a keystore failing part way.
import { join } from "node:path";
import { writeFile } from "node:fs/promises";
import { expect } from "chai";
import { KeyManagerError, KeyNotFound, type Context } from "../../../src/keystore/key-manager.js";
import { FaultInjectingKeyManager } from "./fault-keystore.js";
import { VolEnv, volXML } from "./helpers.js";
import { rejection } from "../../helpers/reject.js";

const ALICE: Context = { user: "alice", project: "pa" };
const BOB: Context = { user: "bob", project: "pb" };

describe("storage/volume-driver with a keystore (local backend, mock qemu-img)", () => {
  let env: VolEnv;
  beforeEach(async () => {
    env = await VolEnv.create();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it("a generated secret comes from createKey: passphrase = lowercase hex of the key; delete removes the key", async () => {
    const ks = env.local();
    const vd = await env.open({ keystore: ks, keystoreContext: ALICE });
    await vd.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" });
    const rec = (await vd.record("a.img"))!;
    expect(rec.ownsKey).to.equal(true);
    expect(rec.ownsSecret).to.equal(true);
    const key = await ks.getKey(ALICE, rec.keyId!);
    expect(key.bitLength).to.equal(256);
    const value = Buffer.from(await env.secrets.elevated().getValue(rec.secretUuid!)).toString("latin1");
    expect(value).to.equal(Buffer.from(key.value!).toString("hex"));
    await vd.delete("a.img");
    expect((await rejection(ks.getKey(ALICE, rec.keyId!))).constructor).to.equal(KeyNotFound);
    expect(await ks.listKeys(ALICE)).to.deep.equal([]);
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
  });

  it("BYOK: encrypts under a clone of the user's key; delete removes the clone, the original stays", async () => {
    const ks = env.local();
    const original = await ks.createKey(ALICE, { name: "my key" });
    const vd = await env.open({ keystore: ks });
    await vd.createXML(volXML({ name: "b.qcow2", format: "qcow2" }), { keyId: original, ctx: ALICE });
    const rec = (await vd.record("b.qcow2"))!;
    expect(rec.keyId).to.not.equal(original);
    expect(rec.ownsKey).to.equal(true);
    const orig = await ks.getKey(ALICE, original);
    const clone = await ks.getKey(ALICE, rec.keyId!);
    expect(Buffer.from(clone.value!).equals(Buffer.from(orig.value!))).to.equal(true);
    const value = Buffer.from(await env.secrets.elevated().getValue(rec.secretUuid!)).toString("latin1");
    expect(value).to.equal(Buffer.from(orig.value!).toString("hex"));
    expect((await vd.keyCheck("b.qcow2")).ok).to.equal(true);

    // no keystore on hand: the delete is refused before anything is removed
    const bare = await env.open();
    const e = await rejection(bare.delete("b.qcow2"));
    expect(e.message).to.equal(`Requested operation is not valid: volume 'b.qcow2' owns keystore key ${rec.keyId}: deleting it needs the keystore`);
    expect((await env.state()).files).to.deep.equal(["b.qcow2"]);

    await vd.delete("b.qcow2", { ctx: ALICE });
    expect((await rejection(ks.getKey(ALICE, rec.keyId!))).constructor).to.equal(KeyNotFound);
    expect((await ks.listKeys(ALICE)).map((k) => k.id)).to.deep.equal([original]);
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
  });

  it("keys per tenant: another user's key id fails exactly as a random id, and nothing is made", async () => {
    const ks = env.local();
    const alices = await ks.createKey(ALICE);
    const vd = await env.open({ keystore: ks });
    const foreign = await rejection(vd.createXML(volXML({ name: "x.img" }), { keyId: alices, ctx: BOB }));
    const random = "0b5e1c2d-3f4a-4b6c-8d9e-0f1a2b3c4d5e";
    const absent = await rejection(vd.createXML(volXML({ name: "x.img" }), { keyId: random, ctx: BOB }));
    expect(foreign.constructor).to.equal(KeyNotFound);
    expect(absent.constructor).to.equal(KeyNotFound);
    expect(foreign.message.replace(alices, "ID")).to.equal(absent.message.replace(random, "ID"));
    expect((foreign as KeyNotFound).code).to.equal((absent as KeyNotFound).code);
    expect(await ks.listKeys(BOB)).to.deep.equal([]);
    expect((await ks.listKeys(ALICE)).map((k) => k.id)).to.deep.equal([alices]);
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
  });

  it("the keystore failing right after copyKey: no clone, no secret, no file, no record", async () => {
    const ks = new FaultInjectingKeyManager(env.local());
    const original = await ks.createKey(ALICE);
    const vd = await env.open({ keystore: ks, keystoreContext: ALICE });
    ks.failAfter("copyKey");
    const e = await rejection(vd.createXML(volXML({ name: "f.img" }), { keyId: original }));
    expect(e).to.be.instanceOf(KeyManagerError);
    expect(e.message).to.equal("Key manager error: injected fault: the keystore failed during getKey");
    expect(ks.failed).to.equal("getKey");
    expect(ks.calls).to.deep.equal(["createKey", "copyKey", "getKey", "deleteKey"]);
    expect((await ks.listKeys(ALICE)).map((k) => k.id)).to.deep.equal([original]);
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
  });

  it("qemu-img failing after copyKey: the clone is deleted too", async () => {
    const ks = env.local();
    const original = await ks.createKey(ALICE);
    const vd = await env.open({ keystore: ks, keystoreContext: ALICE, env: env.procEnv("fail") });
    await rejection(vd.createXML(volXML({ name: "f.img" }), { keyId: original }));
    expect((await ks.listKeys(ALICE)).map((k) => k.id)).to.deep.equal([original]);
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
  });

  /** Collect process warnings while `fn` runs (and one turn after, when they are delivered). */
  async function withWarnings(fn: (warnings: readonly string[]) => Promise<void>): Promise<string[]> {
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      await fn(warnings);
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off("warning", onWarning);
    }
    return warnings;
  }

  /**
   * BYOK create of f.img from `original` where qemu-img fails ("No space left
   * on device") and the rollback's deleteKey of the clone fails as well.
   */
  async function createWithFailedRollback(ks: FaultInjectingKeyManager, original: string): Promise<Error> {
    const vd = await env.open({ keystore: ks, keystoreContext: ALICE, env: env.procEnv("wait-fail") });
    const p = rejection(vd.createXML(volXML({ name: "f.img" }), { keyId: original }));
    while ((await env.log()).length === 0) await new Promise((r) => setTimeout(r, 20));
    // copyKey and getKey are done; arm so that the next call (the rollback's deleteKey) fails
    ks.failAfter("listKeys");
    await ks.listKeys(ALICE);
    await writeFile(join(env.mockDir, "go"), "");
    return p;
  }

  it("keystore down during the rollback too: the intent stays and the next open removes the clone", async () => {
    const ks = new FaultInjectingKeyManager(env.local());
    const original = await ks.createKey(ALICE);
    const warnings = await withWarnings(async () => {
      const e = await createWithFailedRollback(ks, original);
      expect(e.message).to.match(/No space left on device/);
    });
    expect(ks.failed).to.equal("deleteKey");
    expect(warnings.some((w) => w.includes("could not be fully undone"))).to.equal(true);
    const left = await env.state();
    expect(left.files).to.deep.equal([]);
    expect(left.pending).to.deep.equal([join(env.pool, "f.img")]);
    expect(await ks.listKeys(ALICE)).to.have.length(2);

    const vd2 = await env.open({ keystore: ks, keystoreContext: ALICE });
    expect(vd2.recovered).to.deep.equal([join(env.pool, "f.img")]);
    expect((await ks.listKeys(ALICE)).map((k) => k.id)).to.deep.equal([original]);
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
  });

  it("keystore still down at the next open: the pool opens, the intent stays (warned), a later open finishes it", async () => {
    const ks = new FaultInjectingKeyManager(env.local());
    const original = await ks.createKey(ALICE);
    await withWarnings(async (warnings) => {
      await createWithFailedRollback(ks, original);
      expect(ks.failed).to.equal("deleteKey");

      // the recovery's deleteKey fails as well: that must not keep the pool from opening
      ks.failAfter("listKeys");
      await ks.listKeys(ALICE);
      const vd2 = await env.open({ keystore: ks, keystoreContext: ALICE });
      expect(vd2.recovered).to.deep.equal([]);
      expect(await vd2.list()).to.deep.equal([]);
      await new Promise((r) => setImmediate(r));
      expect(warnings.some((w) => w.includes("f.img") && w.includes("injected fault") && w.includes("the next open retries"))).to.equal(true);
      expect((await env.state()).pending).to.deep.equal([join(env.pool, "f.img")]);
      expect(await ks.listKeys(ALICE)).to.have.length(2);
    });

    const vd3 = await env.open({ keystore: ks, keystoreContext: ALICE });
    expect(vd3.recovered).to.deep.equal([join(env.pool, "f.img")]);
    expect((await ks.listKeys(ALICE)).map((k) => k.id)).to.deep.equal([original]);
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
  });
});
