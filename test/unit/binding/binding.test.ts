// Keystore-backed secrets (issue 4, acceptance 4): two roots bound to one key
// of a shared local keystore read the same value; unbinding or deleting the
// key fails the next read clearly; the bound value never reaches the store.
import { expect } from "chai";
import type { Context, KeyManager } from "../../../src/keystore/key-manager.js";
import type { LocalKeyManager } from "../../../src/keystore/local.js";
import { SecretEventID } from "../../../src/secret/api.js";
import { BINDING_SPACE } from "../../../src/secret/binding.js";
import { SECRET_SPACE, openSecretDriver, type SecretDriver, type SecretDriverOptions } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { U1, U2, dec, enc, expectVirError, secretXML } from "../secret/helpers.js";
import { Base, countFiles, filesContaining } from "./helpers.js";

const tenant: Context = { user: "alice", project: "tenant-a", roles: ["member"], token: "tok-never-stored-123" };
const other: Context = { user: "mallory", project: "tenant-m" };
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

describe("keystore-backed secrets", function () {
  const base = new Base();
  let km: LocalKeyManager;

  beforeEach(async () => {
    await base.init();
    km = await base.keystore();
  });
  afterEach(() => base.cleanup());

  const open = async (name: string, opts: Omit<SecretDriverOptions, "uri"> = {}): Promise<SecretDriver> =>
    base.track(await openSecretDriver({ uri: embedURI(base.root(name)), keystores: { shared: km }, ...opts }));

  const bind = (drv: SecretDriver, uuid: string, keyId: string, ctx: Context = tenant): Promise<void> =>
    drv.bindKey(uuid, { keystore: "shared", keyId, context: ctx });

  it("two roots bound to one key read the same value: lowercase hex of the key bytes", async () => {
    const keyId = await km.createKey(tenant, { length: 256 });
    const keyBytes = (await km.getKey(tenant, keyId)).value!;
    const hostA = await open("host-a");
    const hostB = await open("host-b");
    for (const drv of [hostA, hostB]) {
      await drv.defineXML(secretXML({ uuid: U1, usage: ["volume", "/pool/vol1"] }));
      await bind(drv, U1, keyId);
    }
    const a = await hostA.lookupByUUID(U1).getValue();
    const b = await hostB.lookupByUUID(U1).getValue();
    expect(dec(a)).to.equal(hex(keyBytes));
    expect(dec(a)).to.match(/^[0-9a-f]{64}$/);
    expect(Buffer.from(b).equals(Buffer.from(a))).to.equal(true);
  });

  it("the hex passphrase made from the key bytes is wiped once the caller has its copy", async () => {
    const keyId = await km.createKey(tenant, { length: 256 });
    const drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1 }));
    await bind(drv, U1, keyId);
    // SPY on TextEncoder.encode (passphraseFromKey encodes the hex with it): keep what it hands out
    const made: Uint8Array[] = [];
    const real = TextEncoder.prototype.encode;
    TextEncoder.prototype.encode = function (this: InstanceType<typeof TextEncoder>, input?: string) {
      const out = real.call(this, input);
      if (input !== undefined && /^[0-9a-f]{64}$/.test(input)) made.push(out);
      return out;
    };
    let value: Uint8Array;
    try {
      value = await drv.lookupByUUID(U1).getValue();
    } finally {
      TextEncoder.prototype.encode = real;
    }
    expect(dec(value)).to.match(/^[0-9a-f]{64}$/);
    expect(made.length).to.be.greaterThan(0);
    for (const m of made) expect(m.every((x) => x === 0), "an unwiped copy of the passphrase").to.equal(true);
  });

  it("a passphrase object is used as its text", async () => {
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc("correct horse battery") });
    const drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1 }));
    await bind(drv, U1, keyId);
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("correct horse battery");
  });

  it("deleting the key gives a clear error on the next read, on every host, not the old value", async () => {
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc("shared-pass") });
    const hostA = await open("host-a");
    const hostB = await open("host-b");
    for (const drv of [hostA, hostB]) {
      await drv.defineXML(secretXML({ uuid: U1 }));
      await bind(drv, U1, keyId);
      expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("shared-pass");
    }
    await km.deleteKey(tenant, keyId);
    for (const drv of [hostA, hostB]) {
      await expectVirError(
        () => drv.lookupByUUID(U1).getValue(),
        "NO_SECRET",
        `Secret not found: secret '${U1}' is bound to keystore key ${keyId}, which keystore 'shared' does not have (Key not found, uuid: ${keyId})`,
      );
      await expectVirError(() => drv.elevated().getValue(U1), "NO_SECRET", /does not have \(Key not found/);
    }
  });

  it("unbinding gives 'does not have a value' on read on that host only", async () => {
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc("shared-pass") });
    const hostA = await open("host-a");
    const hostB = await open("host-b");
    for (const drv of [hostA, hostB]) {
      await drv.defineXML(secretXML({ uuid: U1 }));
      await drv.lookupByUUID(U1).setValue(enc("own value before binding"));
      await bind(drv, U1, keyId);
    }
    await hostA.unbindKey(U1);
    expect(hostA.keyBinding(U1)).to.equal(undefined);
    // neither the keystore value nor the value it had before binding
    await expectVirError(() => hostA.lookupByUUID(U1).getValue(), "NO_SECRET", `Secret not found: secret '${U1}' does not have a value`);
    expect(dec(await hostB.lookupByUUID(U1).getValue())).to.equal("shared-pass");
    await expectVirError(() => hostA.unbindKey(U1), "OPERATION_INVALID", `Requested operation is not valid: secret '${U1}' is not bound to a keystore key`);
    // after unbinding the secret takes a value of its own again
    await hostA.lookupByUUID(U1).setValue(enc("mine"));
    expect(dec(await hostA.lookupByUUID(U1).getValue())).to.equal("mine");
  });

  it("the binding persists across reopen (no token kept); the value is resolved again", async () => {
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc("after-restart") });
    let drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1, usage: ["ceph", "client.admin"] }));
    await bind(drv, U1, keyId);
    await drv.close();
    drv = await open("host-a");
    expect(drv.keyBinding(U1)).to.deep.equal({
      uuid: U1,
      keystore: "shared",
      keyId,
      context: { user: "alice", project: "tenant-a", roles: ["member"] },
    });
    const rec = await drv.store.get<Record<string, unknown>>(BINDING_SPACE, U1);
    expect(rec?.secret).to.equal(undefined);
    expect(JSON.stringify(rec?.data)).to.not.include("tok-never-stored");
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("after-restart");
    await drv.close();
    expect(await countFiles(base.root("host-a"))).to.be.greaterThan(2);
    expect(await filesContaining(base.root("host-a"), enc("tok-never-stored"))).to.deep.equal([]);
  });

  it("the bound value never reaches the store (record check and byte scan); the old own value is removed", async () => {
    const marker = `bound-marker-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc(marker) });
    const symId = await km.createKey(tenant);
    const symHex = hex((await km.getKey(tenant, symId)).value!);
    const drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1 }));
    await drv.lookupByUUID(U1).setValue(enc("old-own-value"));
    expect((await drv.store.get(SECRET_SPACE, U1))?.secret).to.not.equal(undefined);
    await bind(drv, U1, keyId);
    await drv.defineXML(secretXML({ uuid: U2 }));
    await bind(drv, U2, symId);
    for (let i = 0; i < 3; i++) {
      expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal(marker);
      expect(dec(await drv.lookupByUUID(U2).getValue())).to.equal(symHex);
    }
    // redefining a bound secret keeps it value-less in the store
    await drv.defineXML(secretXML({ uuid: U1, description: "redefined" }));
    for (const u of [U1, U2]) {
      expect((await drv.store.get(SECRET_SPACE, u))?.secret, `secret record ${u}`).to.equal(undefined);
      expect((await drv.store.get(BINDING_SPACE, u))?.secret, `binding record ${u}`).to.equal(undefined);
    }
    await drv.close();
    expect(await countFiles(base.root("host-a"))).to.be.greaterThan(2);
    expect(await filesContaining(base.root("host-a"), enc(marker))).to.deep.equal([]);
    expect(await filesContaining(base.root("host-a"), enc(symHex))).to.deep.equal([]);
    expect(await filesContaining(base.root("host-a"), enc("tok-never-stored"))).to.deep.equal([]);
  });

  it("setValue and defineWithValue on a bound secret are refused; the binding and value stay", async () => {
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc("kept") });
    const drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1 }));
    await bind(drv, U1, keyId);
    const msg = `Requested operation is not valid: virSecretSetValue: secret '${U1}' is bound to keystore key ${keyId}; its value comes from keystore 'shared' (unbind it first)`;
    await expectVirError(() => drv.lookupByUUID(U1).setValue(enc("nope")), "OPERATION_INVALID", msg);
    await expectVirError(() => drv.elevated().defineWithValue(secretXML({ uuid: U1 }), enc("nope")), "OPERATION_INVALID", msg);
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("kept");
    expect((await drv.store.get(SECRET_SPACE, U1))?.secret).to.equal(undefined);
  });

  it("binding to an absent or another owner's key fails alike and changes nothing", async () => {
    const foreign = await km.storeKey(other, { kind: "passphrase", value: enc("not yours") });
    const absent = "0b5e7a1c-3a57-4b55-9d7e-2f7e0c0d9a11";
    const drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1 }));
    await drv.lookupByUUID(U1).setValue(enc("mine"));
    const texts: string[] = [];
    for (const id of [foreign, absent]) {
      const e = await expectVirError(() => bind(drv, U1, id), "NO_SECRET", /does not have \(Key not found, uuid: /);
      texts.push(e.message.replaceAll(id, "ID"));
    }
    expect(texts[0]).to.equal(texts[1]);
    expect(drv.keyBinding(U1)).to.equal(undefined);
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("mine");
    expect(await drv.store.get(BINDING_SPACE, U1)).to.equal(undefined);
  });

  it("bad bind requests are refused before any keystore call", async () => {
    const drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1 }));
    const keyId = await km.createKey(tenant);
    await expectVirError(() => drv.bindKey("not-a-uuid", { keystore: "shared", keyId, context: tenant }), "INVALID_ARG", /must be a valid UUID/);
    await expectVirError(() => drv.bindKey(U2, { keystore: "shared", keyId, context: tenant }), "NO_SECRET", `Secret not found: no secret with matching uuid '${U2}'`);
    await expectVirError(() => drv.bindKey(U1, { keystore: "", keyId, context: tenant }), "INVALID_ARG", "invalid argument: invalid key binding: keystore reference must be a non-empty string");
    await expectVirError(() => drv.bindKey(U1, { keystore: "shared", keyId: "a\nb", context: tenant }), "INVALID_ARG", "invalid argument: invalid key binding: key id contains control characters");
    await expectVirError(
      () => drv.bindKey(U1, { keystore: "shared", keyId, context: null as unknown as Context }),
      "INVALID_ARG",
      "invalid argument: invalid key binding: context must be an object with user and/or project",
    );
    await expectVirError(
      () => drv.bindKey(U1, { keystore: "elsewhere", keyId, context: tenant }),
      "OPERATION_INVALID",
      `Requested operation is not valid: secret '${U1}' is bound to keystore 'elsewhere', which this connection was not opened with (see the keystores option)`,
    );
    expect(drv.keyBinding(U1)).to.equal(undefined);
  });

  it("a root reopened without its keystore says which keystore is missing", async () => {
    const keyId = await km.createKey(tenant);
    let drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1 }));
    await bind(drv, U1, keyId);
    await drv.close();
    drv = base.track(await openSecretDriver({ uri: embedURI(base.root("host-a")) }));
    await expectVirError(
      () => drv.lookupByUUID(U1).getValue(),
      "OPERATION_INVALID",
      `Requested operation is not valid: secret '${U1}' is bound to keystore 'shared', which this connection was not opened with (see the keystores option)`,
    );
  });

  it("an ephemeral secret's binding stays in memory; redefining moves it in and out of the store", async () => {
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc("eph") });
    const drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1, ephemeral: true }));
    await bind(drv, U1, keyId);
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("eph");
    expect(await drv.store.get(BINDING_SPACE, U1)).to.equal(undefined);
    await drv.defineXML(secretXML({ uuid: U1 }));
    expect((await drv.store.get(BINDING_SPACE, U1))?.data).to.include({ keyId, keystore: "shared" });
    await drv.defineXML(secretXML({ uuid: U1, ephemeral: true }));
    expect(await drv.store.get(BINDING_SPACE, U1)).to.equal(undefined);
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("eph");
  });

  it("undefine removes the binding record with the secret", async () => {
    const keyId = await km.createKey(tenant);
    let drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1 }));
    await bind(drv, U1, keyId);
    await drv.lookupByUUID(U1).undefine();
    expect(await drv.store.get(BINDING_SPACE, U1)).to.equal(undefined);
    await drv.defineXML(secretXML({ uuid: U1 }));
    await expectVirError(() => drv.lookupByUUID(U1).getValue(), "NO_SECRET", `Secret not found: secret '${U1}' does not have a value`);
    await drv.close();
    drv = await open("host-a");
    expect(drv.keyBinding(U1)).to.equal(undefined);
  });

  it("private rules are unchanged: only the elevated handle reads a private bound secret", async () => {
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc("priv") });
    const drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1, private: true }));
    await bind(drv, U1, keyId);
    await expectVirError(() => drv.lookupByUUID(U1).getValue(), "INVALID_SECRET", "Invalid secret: secret is private");
    expect(dec(await drv.elevated().getValue(U1))).to.equal("priv");
  });

  it("the XML stays libvirt's: no trace of the binding", async () => {
    const keyId = await km.createKey(tenant);
    const drv = await open("host-a");
    const xml = secretXML({ uuid: U1, usage: ["volume", "/v"] });
    await drv.defineXML(xml);
    const before = drv.lookupByUUID(U1).getXMLDesc();
    await bind(drv, U1, keyId);
    expect(drv.lookupByUUID(U1).getXMLDesc()).to.equal(before);
  });

  it("VALUE_CHANGED fires on bind and on unbind", async () => {
    const keyId = await km.createKey(tenant);
    const drv = await open("host-a");
    await drv.defineXML(secretXML({ uuid: U1 }));
    const seen: string[] = [];
    drv.eventRegisterAny(null, SecretEventID.VALUE_CHANGED, (ev) => seen.push(ev.secret.uuid));
    await bind(drv, U1, keyId);
    expect(seen).to.deep.equal([U1]);
    await drv.unbindKey(U1);
    expect(seen).to.deep.equal([U1, U1]);
  });

  it("read-only connections refuse bind and unbind", async () => {
    const keyId = await km.createKey(tenant);
    const rw = await open("host-a");
    await rw.defineXML(secretXML({ uuid: U1 }));
    await rw.close();
    const ro = await open("host-a", { readOnly: true });
    await expectVirError(() => bind(ro, U1, keyId), "OPERATION_DENIED", "operation forbidden: read only access prevents bindKey");
    await expectVirError(() => ro.unbindKey(U1), "OPERATION_DENIED", "operation forbidden: read only access prevents unbindKey");
  });

  it("a resolver is asked once per reference and given the driver's store; the driver does not close it", async () => {
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc("resolved") });
    const calls: string[] = [];
    let closed = 0;
    const wrapped: KeyManager = Object.assign(Object.create(km) as KeyManager, {
      close: async () => {
        closed++;
      },
      getKey: km.getKey.bind(km),
    });
    const drv = await openSecretDriver({
      uri: embedURI(base.root("host-a")),
      keystores: (ref, env) => {
        calls.push(`${ref}:${env.store?.root === base.root("host-a")}`);
        return ref === "/etc/ks.xml" ? wrapped : undefined;
      },
    });
    await drv.defineXML(secretXML({ uuid: U1 }));
    await drv.bindKey(U1, { keystore: "/etc/ks.xml", keyId, context: tenant });
    for (let i = 0; i < 3; i++) expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("resolved");
    expect(calls).to.deep.equal(["/etc/ks.xml:true"]);
    await drv.close();
    expect(closed).to.equal(0);
  });

  it("a keystore failure on read is an OPERATION_FAILED naming key and keystore, with no value", async () => {
    const keyId = await km.storeKey(tenant, { kind: "passphrase", value: enc("v") });
    const failing: KeyManager = Object.assign(Object.create(km) as KeyManager, {
      getKey: async () => {
        throw new (await import("../../../src/keystore/key-manager.js")).KeyManagerError("connection reset");
      },
    });
    let useFailing = false;
    const drv = base.track(
      await openSecretDriver({ uri: embedURI(base.root("host-a")), keystores: () => (useFailing ? failing : km) }),
    );
    await drv.defineXML(secretXML({ uuid: U1 }));
    await drv.bindKey(U1, { keystore: "ks", keyId, context: tenant });
    expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("v");
    // the resolver result is remembered, so switch the keystore underneath via a fresh driver
    await drv.close();
    useFailing = true;
    const drv2 = base.track(await openSecretDriver({ uri: embedURI(base.root("host-a")), keystores: () => (useFailing ? failing : km) }));
    await expectVirError(
      () => drv2.lookupByUUID(U1).getValue(),
      "OPERATION_FAILED",
      `operation failed: cannot read keystore key ${keyId} of secret '${U1}' from keystore 'ks': Key manager error: connection reset`,
    );
  });
});
