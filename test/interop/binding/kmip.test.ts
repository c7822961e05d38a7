// Scenario 8 against the real PyKMIP server: two virsecret roots ("hosts"),
// each with its own KMIP connection built by openKeystore from a kmip config,
// bind one secret uuid to one KMIP key and read the same value; deleting the
// key or unbinding fails the next read clearly. A root whose master key is
// wrapped by a KMIP key opens only with that keystore. The CLI does the same
// through a <keystore type='kmip'> file.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { KmipKeystoreConfig } from "../../../src/keystore/config.js";
import type { Context, KeyManager } from "../../../src/keystore/key-manager.js";
import { openKeystore } from "../../../src/keystore/open.js";
import { openSecretDriver, type SecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { loadEnvelopeMasterKey } from "../../../src/store/envelope.js";
import { pykmipPeer } from "../kmip/peer.js";
import { runCli } from "../../unit/cli/run.js";
import { countFiles, filesContaining } from "../../unit/binding/helpers.js";
import { U1, dec, enc, expectVirError, secretXML } from "../../unit/secret/helpers.js";

const host: Context = { user: "virsecret-host" };

describe("keystore-backed secrets against PyKMIP (scenario 8)", function () {
  const peer = pykmipPeer();
  const config: KmipKeystoreConfig = {
    type: "kmip",
    host: peer.host,
    port: peer.port,
    tls: { version: "1.2", ca: peer.ca, cert: peer.cert, key: peer.key },
    poolSize: 2,
    timeoutMs: 30_000,
  };
  let dir: string;
  const closers: Array<() => Promise<void>> = [];
  const track = <T extends { close(): Promise<void> }>(x: T): T => {
    closers.push(() => x.close());
    return x;
  };
  const kmipKeystore = async (): Promise<KeyManager> => track(await openKeystore(config));
  const openHost = async (name: string, km: KeyManager): Promise<SecretDriver> =>
    track(await openSecretDriver({ uri: embedURI(join(dir, name)), keystores: { kmip: km } }));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "virsecret-binding-kmip-"));
  });
  afterEach(async () => {
    for (const c of closers.splice(0).reverse()) await c().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  it("two roots, two connections, one KMIP key: the same value (hex of the key bytes), never stored", async () => {
    const kmA = await kmipKeystore();
    const kmB = await kmipKeystore();
    const keyId = await kmA.createKey(host, { length: 256, name: `scenario8-${process.pid}-${Date.now()}` });
    try {
      const keyHex = Buffer.from((await kmB.getKey(host, keyId)).value!).toString("hex");
      const hostA = await openHost("host-a", kmA);
      const hostB = await openHost("host-b", kmB);
      for (const drv of [hostA, hostB]) {
        await drv.defineXML(secretXML({ uuid: U1, usage: ["volume", "/pool/shared-vol"] }));
        await drv.bindKey(U1, { keystore: "kmip", keyId, context: host });
      }
      const a = dec(await hostA.lookupByUUID(U1).getValue());
      const b = dec(await hostB.lookupByUUID(U1).getValue());
      expect(a).to.equal(keyHex);
      expect(b).to.equal(a);
      for (const drv of [hostA, hostB]) await drv.close();
      for (const name of ["host-a", "host-b"]) {
        expect(await countFiles(join(dir, name))).to.be.greaterThan(2);
        expect(await filesContaining(join(dir, name), enc(keyHex))).to.deep.equal([]);
      }
      // reopened, host B still resolves it through its keystore
      const again = await openHost("host-b", kmB);
      expect(dec(await again.lookupByUUID(U1).getValue())).to.equal(keyHex);
    } finally {
      await kmA.deleteKey(host, keyId).catch(() => undefined);
    }
  });

  it("deleting the KMIP key or unbinding fails the next read, never the old value", async () => {
    const kmA = await kmipKeystore();
    const kmB = await kmipKeystore();
    const keyId = await kmA.storeKey(host, { kind: "passphrase", value: enc("kmip cluster pass") });
    const hostA = await openHost("host-a", kmA);
    const hostB = await openHost("host-b", kmB);
    for (const drv of [hostA, hostB]) {
      await drv.defineXML(secretXML({ uuid: U1 }));
      await drv.bindKey(U1, { keystore: "kmip", keyId, context: host });
      expect(dec(await drv.lookupByUUID(U1).getValue())).to.equal("kmip cluster pass");
    }
    await hostA.unbindKey(U1);
    await expectVirError(() => hostA.lookupByUUID(U1).getValue(), "NO_SECRET", `Secret not found: secret '${U1}' does not have a value`);
    await kmA.deleteKey(host, keyId);
    await expectVirError(
      () => hostB.lookupByUUID(U1).getValue(),
      "NO_SECRET",
      `Secret not found: secret '${U1}' is bound to keystore key ${keyId}, which keystore 'kmip' does not have (Key not found, uuid: ${keyId})`,
    );
  });

  it("a root whose master key is wrapped by a KMIP key opens only with it; no plaintext master key under it", async () => {
    const km = await kmipKeystore();
    const kekId = await km.createKey(host, { length: 256 });
    try {
      const root = join(dir, "wrapped");
      const env = { keystore: km, context: host, keyId: kekId };
      const drv = await openSecretDriver({ uri: embedURI(root), masterKeyEnvelope: env });
      await drv.defineXML(secretXML({ uuid: U1 }));
      await drv.lookupByUUID(U1).setValue(enc("under a kmip kek"));
      await drv.close();
      await expectVirError(
        () => openSecretDriver({ uri: embedURI(root) }),
        "OPERATION_INVALID",
        `Requested operation is not valid: master key of secret root '${root}' is wrapped by keystore key ${kekId}; open it with that keystore`,
      );
      const reopened = track(await openSecretDriver({ uri: embedURI(root), masterKeyEnvelope: env }));
      expect(dec(await reopened.lookupByUUID(U1).getValue())).to.equal("under a kmip kek");
      await reopened.close();
      const { key } = await loadEnvelopeMasterKey(root, env);
      expect(await countFiles(root)).to.be.greaterThan(3);
      expect(await filesContaining(root, key)).to.deep.equal([]);
      expect(await filesContaining(root, enc("under a kmip kek"))).to.deep.equal([]);
    } finally {
      await km.deleteKey(host, kekId).catch(() => undefined);
    }
    await expectVirError(
      () => openSecretDriver({ uri: embedURI(join(dir, "wrapped")), masterKeyEnvelope: { keystore: km, context: host, keyId: kekId } }),
      "OPERATION_FAILED",
      new RegExp(`cannot get keystore key ${kekId} for the master key of secret root .*: Key not found, uuid: ${kekId}$`),
    );
  });

  it("the CLI: key-create and secret-bind-key through a <keystore type='kmip'> file, on two roots", async () => {
    const ks = join(dir, "kmip.xml");
    await writeFile(
      ks,
      `<keystore type='kmip'>\n  <host>${peer.host}</host>\n  <port>${peer.port}</port>\n` +
        `  <tls version='1.2'>\n    <ca>${peer.ca}</ca>\n    <cert>${peer.cert}</cert>\n    <key>${peer.key}</key>\n  </tls>\n</keystore>\n`,
    );
    const uri = (n: string): string => embedURI(join(dir, n));
    const created = await runCli(["-q", "-c", uri("host-a"), "key-create", "--keystore", ks, "--user", "virsecret-host"]);
    expect(created.err).to.equal("");
    const keyId = created.out.trim();
    expect(keyId).to.match(/^\S+$/);
    try {
      const xml = join(dir, "s.xml");
      await writeFile(xml, secretXML({ uuid: U1 }));
      const values: string[] = [];
      for (const n of ["host-a", "host-b"]) {
        expect((await runCli(["-c", uri(n), "secret-define", xml])).code).to.equal(0);
        const bound = await runCli(["-c", uri(n), "secret-bind-key", U1, keyId, "--keystore", ks, "--user", "virsecret-host"]);
        expect(bound).to.deep.include({ code: 0, err: "", out: `Secret ${U1} bound to key ${keyId}\n\n` });
        const got = await runCli(["-q", "-c", uri(n), "secret-get-value", U1, "--plain"]);
        expect(got.err).to.equal("");
        values.push(got.out);
      }
      const key = await runCli(["-q", "-c", uri("host-a"), "key-get", keyId, "--keystore", ks, "--user", "virsecret-host"]);
      expect(values[0]).to.equal(Buffer.from(key.out, "base64").toString("hex"));
      expect(values[1]).to.equal(values[0]);
    } finally {
      await runCli(["-q", "-c", uri("host-a"), "key-delete", keyId, "--keystore", ks, "--user", "virsecret-host"]);
    }
    const after = await runCli(["-c", uri("host-b"), "secret-get-value", U1]);
    expect(after.code).to.equal(1);
    expect(after.err).to.equal(
      `error: Secret not found: secret '${U1}' is bound to keystore key ${keyId}, which keystore '${ks}' does not have (Key not found, uuid: ${keyId})\n`,
    );
  });
});
