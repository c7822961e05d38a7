// Envelope master key (issue 4, acceptance 4): a root whose master key is
// wrapped by a keystore key cannot be opened without that keystore, opens
// with it, and holds no plaintext master key anywhere under it.
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import type { LocalKeyManager } from "../../../src/keystore/local.js";
import { openSecretDriver, type SecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { SecretStore } from "../../../src/store/db.js";
import { VirError } from "../../../src/errors.js";
import {
  CorruptWrappedKeyError,
  WRAPPED_KEY_FILE,
  loadEnvelopeMasterKey,
  readWrappedKeyFile,
  unwrapMasterKey,
  type MasterKeyEnvelope,
} from "../../../src/store/envelope.js";
import { seal } from "../../../src/store/seal.js";
import { U1, dec, enc, expectVirError, secretXML } from "../secret/helpers.js";
import { Base, countFiles, filesContaining, ops } from "./helpers.js";

describe("envelope master key", function () {
  const base = new Base();
  let km: LocalKeyManager;
  let kekId: string;
  let root: string;
  let env: MasterKeyEnvelope;

  beforeEach(async () => {
    await base.init();
    ({ km, kekId, root } = await base.kekAndRoot());
    env = { keystore: km, context: ops, keyId: kekId };
  });
  afterEach(() => base.cleanup());

  const openWith = async (e: MasterKeyEnvelope = env): Promise<SecretDriver> =>
    base.track(await openSecretDriver({ uri: embedURI(root), masterKeyEnvelope: e }));

  it("first open wraps a new key (0600 file naming the KEK, no master.key); later opens unwrap it", async () => {
    let drv = await openWith();
    await drv.defineXML(secretXML({ uuid: U1 }));
    await drv.lookupByUUID(U1).setValue(enc("wrapped-root-value"));
    await drv.close();
    const st = await stat(join(root, WRAPPED_KEY_FILE));
    expect(st.mode & 0o777).to.equal(0o600);
    const doc = JSON.parse(await readFile(join(root, WRAPPED_KEY_FILE), "utf8")) as Record<string, unknown>;
    expect(doc).to.include({ v: 1, format: "virsecret-wrapped-master-key", keyId: kekId, aead: "xchacha20poly1305" });
    expect(Object.keys(doc).sort()).to.deep.equal(["aead", "format", "keyId", "sealed", "v"]);
    expect(await filesNamed(root, "master.key")).to.equal(false);
    drv = await openWith();
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("wrapped-root-value");
  });

  it("cannot be opened without the keystore: a clear error naming the key id, and no new key is made", async () => {
    const drv = await openWith();
    await drv.defineXML(secretXML({ uuid: U1 }));
    await drv.lookupByUUID(U1).setValue(enc("v"));
    await drv.close();
    const msg = `Requested operation is not valid: master key of secret root '${root}' is wrapped by keystore key ${kekId}; open it with that keystore`;
    await expectVirError(() => openSecretDriver({ uri: embedURI(root) }), "OPERATION_INVALID", msg);
    await expectVirError(() => SecretStore.open({ root }), "OPERATION_INVALID", msg);
    // a systemd credential does not take over either
    const prev = process.env.CREDENTIALS_DIRECTORY;
    const creds = base.root("creds");
    await mkdir(creds, { mode: 0o700 });
    await writeFile(join(creds, "secrets-encryption-key"), new Uint8Array(32).fill(9), { mode: 0o600 });
    process.env.CREDENTIALS_DIRECTORY = creds;
    try {
      await expectVirError(() => SecretStore.open({ root }), "OPERATION_INVALID", msg);
    } finally {
      if (prev === undefined) delete process.env.CREDENTIALS_DIRECTORY;
      else process.env.CREDENTIALS_DIRECTORY = prev;
    }
    expect(await filesNamed(root, "master.key")).to.equal(false);
    // and it still opens with the keystore afterwards
    const again = await openWith();
    expect(dec(await again.lookupByUUID(U1).getValue())).to.equal("v");
  });

  it("no plaintext master key (nor the KEK, nor a value) anywhere under the root", async () => {
    const marker = `envelope-value-${Date.now()}`;
    const drv = await openWith();
    await drv.defineXML(secretXML({ uuid: U1 }));
    await drv.lookupByUUID(U1).setValue(enc(marker));
    await drv.close();
    // the master key as the keystore unwraps it (the root exists, so nothing is created)
    const { key, created } = await loadEnvelopeMasterKey(root, env);
    expect(created).to.equal(false);
    expect(key.length).to.equal(32);
    // and it really is the store's key: the store opens with it directly
    await (await SecretStore.open({ root, masterKey: { key } })).close();
    const kek = (await km.getKey(ops, kekId)).value!;
    expect(await countFiles(root)).to.be.greaterThan(3);
    expect(await filesContaining(root, key)).to.deep.equal([]);
    expect(await filesContaining(root, enc(Buffer.from(key).toString("hex")))).to.deep.equal([]);
    expect(await filesContaining(root, enc(Buffer.from(key).toString("base64")))).to.deep.equal([]);
    expect(await filesContaining(root, kek)).to.deep.equal([]);
    expect(await filesContaining(root, enc(marker))).to.deep.equal([]);
  });

  it("a deleted KEK, another key id, a tampered file and a short KEK are clear errors", async () => {
    await (await openWith()).close();
    const otherId = await km.createKey(ops);
    await expectVirError(
      () => openWith({ ...env, keyId: otherId }),
      "OPERATION_INVALID",
      `Requested operation is not valid: master key of secret root '${root}' is wrapped by keystore key ${kekId}, not by ${otherId}; open it with that key`,
    );
    const file = join(root, WRAPPED_KEY_FILE);
    const original = await readFile(file, "utf8");
    const doc = JSON.parse(original) as { sealed: string };
    const bytes = Buffer.from(doc.sealed, "base64");
    bytes[bytes.length - 1] ^= 1;
    await writeFile(file, JSON.stringify({ ...doc, sealed: bytes.toString("base64") }));
    await expectVirError(
      () => openWith(),
      "OPERATION_FAILED",
      `operation failed: keystore key ${kekId} does not unwrap the master key of secret root '${root}' (another key under that id, or a corrupted ${WRAPPED_KEY_FILE})`,
    );
    await writeFile(file, "{not json");
    await expectVirError(() => openWith(), "INTERNAL_ERROR", `internal error: corrupt wrapped master key file '${file}': not JSON`);
    await writeFile(file, original);
    await km.deleteKey(ops, kekId);
    await expectVirError(
      () => openWith(),
      "OPERATION_FAILED",
      `operation failed: cannot get keystore key ${kekId} for the master key of secret root '${root}': Key not found, uuid: ${kekId}`,
    );
    const pass = await km.storeKey(ops, { kind: "passphrase", value: enc("short") });
    const fresh = base.root("host-b");
    await expectVirError(
      () => openSecretDriver({ uri: embedURI(fresh), masterKeyEnvelope: { ...env, keyId: pass } }),
      "INVALID_ARG",
      `invalid argument: keystore key ${pass} cannot wrap the master key of secret root '${fresh}': it is 5 bytes, a 32-byte (256-bit) key is needed`,
    );
    expect(await filesNamed(fresh, WRAPPED_KEY_FILE)).to.equal(false);
  });

  it("a root with a plain key is not wrapped behind the user's back", async () => {
    await (await base.track(await openSecretDriver({ uri: embedURI(root) }))).close();
    await expectVirError(
      () => openWith(),
      "OPERATION_INVALID",
      `Requested operation is not valid: secret root '${root}' already has a plain master key (master.key); it cannot be wrapped by keystore key ${kekId}`,
    );
    expect(await filesNamed(root, WRAPPED_KEY_FILE)).to.equal(false);
  });

  it("a root sealed under a key given in the options refuses the envelope and keeps no wrap", async () => {
    const key = new Uint8Array(32).fill(7);
    const drv = await openSecretDriver({ uri: embedURI(root), masterKey: key });
    await drv.defineXML(secretXML({ uuid: U1 }));
    await drv.close();
    await expectVirError(() => openWith(), "OPERATION_FAILED", /wrong master key for secret store/);
    expect(await filesNamed(root, WRAPPED_KEY_FILE)).to.equal(false);
  });

  it("a corrupt wrapped key file is a CorruptWrappedKeyError (typed, same libvirt code and text), not a wrong-KEK error", async () => {
    const file = join(root, WRAPPED_KEY_FILE);
    await mkdir(root, { recursive: true, mode: 0o700 });
    await writeFile(file, "not json", { mode: 0o600 });
    const bad = await readWrappedKeyFile(root).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(bad).to.be.instanceOf(CorruptWrappedKeyError);
    expect(bad).to.be.instanceOf(VirError);
    expect((bad as VirError).codeName).to.equal("INTERNAL_ERROR");
    expect((bad as VirError).message).to.equal(`internal error: corrupt wrapped master key file '${file}': not JSON`);
    // a blob the KEK opens but that holds a 16-byte key: the corruption passes through unwrap as itself
    const kek = (await km.getKey(ops, kekId)).value!;
    const sealed = seal(kek, `virsecret ${WRAPPED_KEY_FILE} v1 ${kekId}`, new Uint8Array(16).fill(3));
    kek.fill(0);
    const e = await unwrapMasterKey(root, { keyId: kekId, sealed }, env).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(CorruptWrappedKeyError);
    expect((e as CorruptWrappedKeyError).file).to.equal(file);
    expect((e as VirError).message).to.equal(`internal error: corrupt wrapped master key file '${file}': the unwrapped key has the wrong length`);
    // a blob the KEK does not open is the wrong-key error, not a corruption
    const other = seal(new Uint8Array(32).fill(1), `virsecret ${WRAPPED_KEY_FILE} v1 ${kekId}`, new Uint8Array(32));
    const w = await unwrapMasterKey(root, { keyId: kekId, sealed: other }, env).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(w).to.be.instanceOf(VirError).and.not.instanceOf(CorruptWrappedKeyError);
    expect((w as VirError).codeName).to.equal("OPERATION_FAILED");
  });

  it("refuses masterKeyEnvelope together with masterKey (rekey of a wrapped root: wrap.test.ts)", async () => {
    await expectVirError(
      () => openSecretDriver({ uri: embedURI(root), masterKeyEnvelope: env, masterKey: new Uint8Array(32) }),
      "INVALID_ARG",
      "invalid argument: masterKeyEnvelope cannot be combined with masterKey or masterKeyFile",
    );
  });
});

async function filesNamed(dir: string, name: string): Promise<boolean> {
  return stat(join(dir, name)).then(
    () => true,
    () => false,
  );
}
