// Wrapping a plain root's master key (drv.wrapMasterKey), rekeying a wrapped
// root, opening a wrapped root through the keystore its file records, and the
// crash states in between: a child killed before the re-seal batch, and a
// wrap/rekey whose batch landed but whose wrapped file never reached its place.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { Level } from "level";
import type { KeyManager } from "../../../src/keystore/key-manager.js";
import type { LocalKeyManager } from "../../../src/keystore/local.js";
import { openLocalKeystore } from "../../../src/keystore/local.js";
import { openSecretDriver, type SecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { SecretStore, WrongMasterKeyError } from "../../../src/store/db.js";
import {
  PENDING_WRAPPED_KEY_FILE,
  WRAPPED_KEY_FILE,
  loadEnvelopeMasterKey,
  type MasterKeyEnvelope,
} from "../../../src/store/envelope.js";
import { U1, U2, dec, enc, expectVirError, secretXML } from "../secret/helpers.js";
import { GatedKeystore } from "./gated-keystore.js";
import { Base, countFiles, filesContaining, ops } from "./helpers.js";

const REF = "/etc/virsecret/kek-keystore.xml";

const exists = (p: string): Promise<boolean> => stat(p).then(
  () => true,
  () => false,
);

describe("wrapping the master key of a root, and rekeying a wrapped root", function () {
  this.timeout(60_000);
  const base = new Base();
  let km: LocalKeyManager;
  let kekId: string;
  let root: string;
  let env: MasterKeyEnvelope;

  beforeEach(async () => {
    await base.init();
    ({ km, kekId, root } = await base.kekAndRoot());
    env = { keystore: km, context: { ...ops, token: "never-recorded" }, keyId: kekId, reference: REF };
  });
  afterEach(() => base.cleanup());

  /** A plain root with two valued secrets; returns its master.key bytes. */
  async function plainRoot(): Promise<Uint8Array> {
    const drv = await openSecretDriver({ uri: embedURI(root) });
    await drv.defineXML(secretXML({ uuid: U1 }));
    await drv.lookupByUUID(U1).setValue(enc("first-value-0123"));
    await drv.defineXML(secretXML({ uuid: U2, private: true, usage: ["volume", "/v/2"] }));
    await drv.lookupByUUID(U2).setValue(enc("second-value-4567"));
    await drv.close();
    return new Uint8Array(await readFile(join(root, "master.key")));
  }

  async function expectValues(drv: SecretDriver): Promise<void> {
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("first-value-0123");
    expect(dec(await drv.elevated().getValue(U2))).to.equal("second-value-4567");
  }

  const withKeystores = (map: Record<string, KeyManager> = { [REF]: km }) =>
    openSecretDriver({ uri: embedURI(root), keystores: map }).then((d) => base.track(d));

  it("wrapMasterKey re-seals under a NEW key kept only wrapped, records keystore and context (never the token), removes master.key", async () => {
    const oldKey = await plainRoot();
    const drv = base.track(await openSecretDriver({ uri: embedURI(root) }));
    expect(drv.masterKeyWrapping()).to.equal(undefined);
    await drv.wrapMasterKey(env);
    expect(drv.masterKeyWrapping()).to.deep.equal({ keyId: kekId, reference: REF, context: ops });
    await expectValues(drv); // the open connection goes on
    await drv.close();

    expect(await exists(join(root, "master.key"))).to.equal(false);
    expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE))).to.equal(false);
    const text = await readFile(join(root, WRAPPED_KEY_FILE), "utf8");
    expect(text).to.not.include("never-recorded");
    const doc = JSON.parse(text) as Record<string, unknown>;
    expect(doc).to.deep.include({ keyId: kekId, keystore: REF, context: { user: "ops", project: "infra" } });
    expect((await stat(join(root, WRAPPED_KEY_FILE))).mode & 0o777).to.equal(0o600);

    // the old plain key (a copy taken before the wrap) opens nothing now
    await expectVirError(() => SecretStore.open({ root, masterKey: { key: oldKey } }), "OPERATION_FAILED", /wrong master key/);
    const { key: newKey } = await loadEnvelopeMasterKey(root, env);
    expect(Buffer.from(newKey).equals(Buffer.from(oldKey))).to.equal(false);

    // without keystores: refused, naming key and keystore; with them: opens by itself
    await expectVirError(
      () => openSecretDriver({ uri: embedURI(root) }),
      "OPERATION_INVALID",
      `Requested operation is not valid: master key of secret root '${root}' is wrapped by keystore key ${kekId} (keystore '${REF}'); open it with that keystore`,
    );
    const again = await withKeystores();
    expect(again.masterKeyWrapping()).to.deep.equal({ keyId: kekId, reference: REF, context: ops });
    await expectValues(again);
  });

  it("the resolver is asked for the recorded reference without a store; unknown or failing keystores are clear errors", async () => {
    await plainRoot();
    const drv = await openSecretDriver({ uri: embedURI(root) });
    await drv.wrapMasterKey(env);
    await drv.close();
    const asked: string[] = [];
    const viaResolver = base.track(
      await openSecretDriver({
        uri: embedURI(root),
        keystores: (ref, e) => {
          asked.push(`${ref} store=${e.store !== undefined}`);
          return ref === REF ? km : undefined;
        },
      }),
    );
    expect(asked).to.deep.equal([`${REF} store=false`]);
    await expectValues(viaResolver);
    await viaResolver.close();
    await expectVirError(
      () => openSecretDriver({ uri: embedURI(root), keystores: {} }),
      "OPERATION_INVALID",
      `Requested operation is not valid: the master key of secret root '${root}' is wrapped by a key of keystore '${REF}', which this connection was not opened with (see the keystores option)`,
    );
    await expectVirError(
      () =>
        openSecretDriver({
          uri: embedURI(root),
          keystores: () => {
            throw new Error("config file gone");
          },
        }),
      "OPERATION_FAILED",
      `operation failed: cannot open keystore '${REF}' for the master key of secret root '${root}': config file gone`,
    );
  });

  it("rekey of a wrapped root: a new master key under the same KEK; old key opens nothing; no pending file", async () => {
    await plainRoot();
    let drv = base.track(await openSecretDriver({ uri: embedURI(root) }));
    await drv.wrapMasterKey(env);
    const { key: k1 } = await loadEnvelopeMasterKey(root, env);
    const before = await readFile(join(root, WRAPPED_KEY_FILE), "utf8");
    await drv.rekey();
    await expectValues(drv);
    await drv.close();
    const after = await readFile(join(root, WRAPPED_KEY_FILE), "utf8");
    expect(after).to.not.equal(before);
    expect(JSON.parse(after)).to.deep.include({ keyId: kekId, keystore: REF });
    expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE))).to.equal(false);
    const { key: k2 } = await loadEnvelopeMasterKey(root, env);
    expect(Buffer.from(k2).equals(Buffer.from(k1))).to.equal(false);
    await expectVirError(() => SecretStore.open({ root, masterKey: { key: k1 } }), "OPERATION_FAILED", /wrong master key/);
    drv = await withKeystores();
    await expectValues(drv);
    // rekey with an explicit key too: that key is what gets wrapped
    const k3 = new Uint8Array(32).fill(0x5a);
    await drv.rekey(k3);
    await drv.close();
    expect(Buffer.from((await loadEnvelopeMasterKey(root, env)).key).equals(Buffer.from(k3))).to.equal(true);
  });

  it("wrapMasterKey on a wrapped root moves it to another KEK; the old KEK is then not needed", async () => {
    await plainRoot();
    const drv = base.track(await openSecretDriver({ uri: embedURI(root) }));
    await drv.wrapMasterKey(env);
    const other = await base.keystore("other-kek-store");
    const otherId = await other.createKey(ops);
    const otherRef = "/etc/virsecret/other.xml";
    await drv.wrapMasterKey({ keystore: other, context: ops, keyId: otherId, reference: otherRef });
    await drv.close();
    await km.deleteKey(ops, kekId);
    const again = await withKeystores({ [otherRef]: other });
    expect(again.masterKeyWrapping()?.keyId).to.equal(otherId);
    await expectValues(again);
  });

  it("a keystore that does not give the key back refuses the wrap and changes nothing", async () => {
    const oldKey = await plainRoot();
    const liar = new GatedKeystore(km, { lieOn: 2 }); // call 1 wraps, call 2 re-reads for the check
    const drv = base.track(await openSecretDriver({ uri: embedURI(root) }));
    await expectVirError(
      () => drv.wrapMasterKey({ ...env, keystore: liar.km }),
      "OPERATION_FAILED",
      `operation failed: keystore key ${kekId} does not unwrap the master key of secret root '${root}' (another key under that id, or a corrupted ${WRAPPED_KEY_FILE})`,
    );
    await expectValues(drv);
    await drv.close();
    expect(Buffer.from(await readFile(join(root, "master.key"))).equals(Buffer.from(oldKey))).to.equal(true);
    expect(await exists(join(root, WRAPPED_KEY_FILE))).to.equal(false);
    expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE))).to.equal(false);
    const plain = base.track(await openSecretDriver({ uri: embedURI(root) }));
    await expectValues(plain);
  });

  it("a stolen root (the directory without the keystore) opens with nothing and holds no key or value", async () => {
    const oldKey = await plainRoot();

    const drv = await openSecretDriver({ uri: embedURI(root) });
    await drv.wrapMasterKey(env);
    await drv.close();
    const { key: newKey } = await loadEnvelopeMasterKey(root, env);
    const kek = (await km.getKey(ops, kekId)).value!;

    const stolen = base.root("stolen");
    await cp(root, stolen, { recursive: true });
    await expectVirError(
      () => openSecretDriver({ uri: embedURI(stolen) }),
      "OPERATION_INVALID",
      `Requested operation is not valid: master key of secret root '${stolen}' is wrapped by keystore key ${kekId} (keystore '${REF}'); open it with that keystore`,
    );
    await expectVirError(() => openSecretDriver({ uri: embedURI(stolen), keystores: {} }), "OPERATION_INVALID", /which this connection was not opened with/);
    expect(await countFiles(stolen)).to.be.greaterThan(3);
    for (const k of [oldKey, newKey, kek]) {
      expect(await filesContaining(stolen, k)).to.deep.equal([]);
      expect(await filesContaining(stolen, enc(Buffer.from(k).toString("hex")))).to.deep.equal([]);
      expect(await filesContaining(stolen, enc(Buffer.from(k).toString("base64")))).to.deep.equal([]);
    }
    for (const v of ["first-value-0123", "second-value-4567"]) expect(await filesContaining(stolen, enc(v))).to.deep.equal([]);
    // and the records the copy does hold are sealed under the new key, which the old one does not open
    const db = new Level<string, string>(join(stolen, "db"), { valueEncoding: "utf8" });
    let sealedRecords = 0;
    try {
      for await (const [, text] of db.iterator()) if ((JSON.parse(text) as { s?: string }).s !== undefined) sealedRecords++;
    } finally {
      await db.close();
    }
    expect(sealedRecords).to.be.greaterThan(2);
    await rm(join(stolen, WRAPPED_KEY_FILE));
    await expectVirError(() => SecretStore.open({ root: stolen, masterKey: { key: oldKey } }), "OPERATION_FAILED", /wrong master key/);
  });

  it("a wrap whose batch landed but whose file was not moved: refused without the keystore, finished with it", async () => {
    const oldKey = await plainRoot();
    const gated = new GatedKeystore(km, { gateOn: 2 }); // the read-back check, just before the batch
    const drv = base.track(await openSecretDriver({ uri: embedURI(root) }));
    const wrapping = drv.wrapMasterKey({ ...env, keystore: gated.km });
    await gated.reached;
    // an obstacle where the wrapped file must go: the rename after the batch fails
    await mkdir(join(root, WRAPPED_KEY_FILE, "obstacle"), { recursive: true });
    gated.open();
    await expectVirError(
      () => wrapping,
      "SYSTEM_ERROR",
      new RegExp(`the master key of secret root '${root}' was replaced, but '.*${PENDING_WRAPPED_KEY_FILE}' cannot be moved over '.*${WRAPPED_KEY_FILE}': .* \\(the next open finishes this\\)$`),
    );
    await expectValues(drv); // the session runs on the new key
    await expectVirError(
      () => drv.rekey(),
      "OPERATION_INVALID",
      `Requested operation is not valid: cannot rekey secret root '${root}': an earlier change of its master key is unfinished; reopen the root to finish it`,
    );
    await drv.close();
    await rm(join(root, WRAPPED_KEY_FILE), { recursive: true });
    // the crash state: stale master.key, the new key only in the pending file
    expect(Buffer.from(await readFile(join(root, "master.key"))).equals(Buffer.from(oldKey))).to.equal(true);
    expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE))).to.equal(true);
    await expectVirError(
      () => openSecretDriver({ uri: embedURI(root) }),
      "OPERATION_INVALID",
      `Requested operation is not valid: master key of secret root '${root}' was being wrapped by keystore key ${kekId} (keystore '${REF}') when it was interrupted; open it with that keystore to finish`,
    );
    const plain = await SecretStore.open({ root }).then(
      async (s) => s.close(),
      (e: unknown) => e,
    );
    expect(plain).to.be.instanceOf(WrongMasterKeyError);
    expect((plain as WrongMasterKeyError).reason).to.equal("wrap-interrupted");
    expect((plain as WrongMasterKeyError).codeName).to.equal("OPERATION_INVALID");
    const finished = await withKeystores();
    await expectValues(finished);
    expect(finished.masterKeyWrapping()?.keyId).to.equal(kekId);
    expect(await exists(join(root, "master.key"))).to.equal(false);
    expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE))).to.equal(false);
    expect(await exists(join(root, WRAPPED_KEY_FILE))).to.equal(true);
  });

  it("a wrapped rekey whose batch landed but whose file was not moved is finished by the next open", async () => {
    await plainRoot();
    const w = await openSecretDriver({ uri: embedURI(root) });
    await w.wrapMasterKey(env);
    await w.close();
    const original = await readFile(join(root, WRAPPED_KEY_FILE));
    const gated = new GatedKeystore(km, { gateOn: 3 }); // 1 unwrap at open, 2 wrap the new key, 3 read-back
    const drv = base.track(await openSecretDriver({ uri: embedURI(root), masterKeyEnvelope: { ...env, keystore: gated.km } }));
    const rekeying = drv.rekey();
    await gated.reached;
    await rm(join(root, WRAPPED_KEY_FILE));
    await mkdir(join(root, WRAPPED_KEY_FILE, "obstacle"), { recursive: true });
    gated.open();
    await expectVirError(() => rekeying, "SYSTEM_ERROR", /cannot be moved over/);
    await drv.close();
    // the crash state: the old wrapped key back in place, the new one pending
    await rm(join(root, WRAPPED_KEY_FILE), { recursive: true });
    await writeFile(join(root, WRAPPED_KEY_FILE), original, { mode: 0o600 });
    const finished = await withKeystores();
    await expectValues(finished);
    expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE))).to.equal(false);
    expect((await readFile(join(root, WRAPPED_KEY_FILE))).equals(original)).to.equal(false);
  });

  it("a wrap interrupted after its rename: the stale plain master.key is removed at the next open", async () => {
    const oldKey = await plainRoot();
    const drv = await openSecretDriver({ uri: embedURI(root) });
    await drv.wrapMasterKey(env);
    await drv.close();
    await writeFile(join(root, "master.key"), oldKey, { mode: 0o600 });
    await writeFile(join(root, "master.key.rekey"), oldKey, { mode: 0o600 });
    const again = await withKeystores();
    await expectValues(again);
    expect(await exists(join(root, "master.key"))).to.equal(false);
    expect(await exists(join(root, "master.key.rekey"))).to.equal(false);
  });

  describe("killed in the middle (child process, SIGKILL before the re-seal batch)", () => {
    const child = fileURLToPath(new URL("wrap-child.ts", import.meta.url));

    async function killAt(mode: "wrap" | "rekey", hang: number): Promise<void> {
      // the child opens the keystore root itself (one process per LevelDB)
      await km.close();
      const signal = base.root("reached");
      const proc = spawn(process.execPath, ["--import", "tsx", child, mode, root, base.root("kek-store"), kekId, String(hang), signal, REF], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      // registered at once: a child that is already gone must not leave us waiting for 'close'
      const closed = new Promise((r) => proc.once("close", r));
      let err = "";
      proc.stderr.on("data", (d) => (err += String(d)));
      proc.stdout.resume();
      const deadline = Date.now() + 30_000;
      while (!existsSync(signal)) {
        if (Date.now() > deadline || proc.exitCode !== null) {
          proc.kill("SIGKILL");
          throw new Error(`child did not reach getKey #${hang}: ${err}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(proc.exitCode, "the child was still waiting when killed").to.equal(null);
      proc.kill("SIGKILL");
      await closed;
      await rm(signal);
      km = await base.keystore("kek-store");
      env = { ...env, keystore: km };
    }

    it("wrap: the root is still plain, the pending file is dropped, and a new wrap works", async () => {
      const oldKey = await plainRoot();
      await killAt("wrap", 2);
      expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE)), "killed with the pending file written").to.equal(true);
      const drv = await withKeystores();
      expect(drv.masterKeyWrapping()).to.equal(undefined);
      await expectValues(drv);
      expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE))).to.equal(false);
      expect(Buffer.from(await readFile(join(root, "master.key"))).equals(Buffer.from(oldKey))).to.equal(true);
      await drv.wrapMasterKey(env);
      await drv.close();
      await expectValues(await withKeystores());
    });

    it("rekey of a wrapped root: the old wrapped key still opens it, the pending file is dropped", async () => {
      await plainRoot();
      const w = await openSecretDriver({ uri: embedURI(root) });
      await w.wrapMasterKey(env);
      await w.close();
      const before = await readFile(join(root, WRAPPED_KEY_FILE));
      await killAt("rekey", 3);
      expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE)), "killed with the pending file written").to.equal(true);
      const drv = await withKeystores();
      await expectValues(drv);
      expect((await readFile(join(root, WRAPPED_KEY_FILE))).equals(before)).to.equal(true);
      expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE))).to.equal(false);
      await drv.rekey();
      await drv.close();
      await expectValues(await withKeystores());
    });
  });

  it("the plain open of a root with a stale pending wrap (batch never landed) drops it", async () => {
    await plainRoot();
    await writeFile(join(root, PENDING_WRAPPED_KEY_FILE), "{}", { mode: 0o600 });
    const drv = base.track(await openSecretDriver({ uri: embedURI(root) }));
    await expectValues(drv);
    expect(await exists(join(root, PENDING_WRAPPED_KEY_FILE))).to.equal(false);
  });
});
