// Issue 6, acceptance 3: a volume created with a Barbican-generated key (an
// order: Barbican makes the key), and a BYOK volume from a key the user put in
// Barbican, open with the real qemu-img / qemu-io. The passphrase the tools
// get is computed here from the payload Barbican itself returns over plain
// HTTP (lowercase hex of the key bytes), not from our client; a wrong one is
// refused; deleting the volume deletes its key in Barbican and nothing else.
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { expect } from "chai";
import type { Context, KeyManager, CreateKeyOptions, NewManagedObject, ListKeysFilter, ManagedObject } from "../../../src/keystore/key-manager.js";
import { openBarbicanKeystore } from "../../../src/keystore/barbican.js";
import { openSecretDriver, type SecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { openVolumeDriver, type VolumeDriver } from "../../../src/storage/volume-driver.js";
import { BARBICAN_URL, freshContext } from "../barbican/peer.js";
import { expectEncrypted, expectWriteRead, keyFile, opens } from "../volume/tools.js";

/** One HTTP request to Barbican as its own API answers it (no-auth: the project header scopes it). */
async function barbican(method: string, path: string, ctx: Context, body?: unknown, accept = "application/json"): Promise<{ status: number; bytes: Buffer }> {
  const res = await fetch(`${BARBICAN_URL}/${path}`, {
    method,
    headers: {
      "X-Project-Id": ctx.project!,
      "X-User-Id": ctx.user!,
      Accept: accept,
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** The key bytes Barbican holds for secret `id`, read straight from its payload endpoint. */
async function payload(ctx: Context, id: string): Promise<Buffer> {
  const r = await barbican("GET", `secrets/${id}/payload`, ctx, undefined, "application/octet-stream");
  expect(r.status, `GET secrets/${id}/payload`).to.equal(200);
  return r.bytes;
}

/** Secret metadata as Barbican reports it. */
async function meta(ctx: Context, id: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await barbican("GET", `secrets/${id}`, ctx);
  return { status: r.status, json: JSON.parse(r.bytes.toString("utf8")) as Record<string, unknown> };
}

/** Records which key-manager calls the volume driver made; every call goes to the real Barbican backend. */
class CallLog implements KeyManager {
  readonly calls: string[] = [];
  constructor(private readonly inner: KeyManager) {}
  get type(): string {
    return this.inner.type;
  }
  get supports() {
    return this.inner.supports;
  }
  createKey(ctx: Context | null | undefined, opts?: CreateKeyOptions): Promise<string> {
    this.calls.push("createKey");
    return this.inner.createKey(ctx, opts);
  }
  storeKey(ctx: Context | null | undefined, obj: NewManagedObject, opts?: { expiration?: number }): Promise<string> {
    this.calls.push("storeKey");
    return this.inner.storeKey(ctx, obj, opts);
  }
  getKey(ctx: Context | null | undefined, id: string, opts?: { metadataOnly?: boolean }): Promise<ManagedObject> {
    this.calls.push("getKey");
    return this.inner.getKey(ctx, id, opts);
  }
  deleteKey(ctx: Context | null | undefined, id: string): Promise<void> {
    this.calls.push("deleteKey");
    return this.inner.deleteKey(ctx, id);
  }
  copyKey(ctx: Context | null | undefined, id: string): Promise<string> {
    this.calls.push("copyKey");
    return this.inner.copyKey(ctx, id);
  }
  listKeys(ctx: Context | null | undefined, filter?: ListKeysFilter): Promise<ManagedObject[]> {
    this.calls.push("listKeys");
    return this.inner.listKeys(ctx, filter);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function volXML(name: string, format: "raw" | "qcow2"): string {
  return `<volume><name>${name}</name><capacity unit='MiB'>8</capacity><target><format type='${format}'/><encryption format='luks'/></target></volume>`;
}

describe("interop/barbican-volume: volumes keyed by the real Barbican open with real qemu-img (issue 6, acceptance 3)", function () {
  this.timeout(120_000);
  let base: string;
  let pool: string;
  let files: string;
  let secrets: SecretDriver;
  let ctx: Context;
  let km: CallLog;
  let vd: VolumeDriver;
  let wrong: string;
  const made: string[] = [];

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), "virsecret-barbican-vol-"));
    pool = join(base, "pool");
    files = join(base, "secret-files");
    await mkdir(pool);
    await mkdir(files);
    secrets = await openSecretDriver({ uri: embedURI(join(base, "root")) });
    ctx = freshContext("vol");
    // createVia 'order': Barbican generates the key, we never see it before it exists there
    km = new CallLog(await openBarbicanKeystore({ endpoint: BARBICAN_URL, auth: { type: "noauth" }, createVia: "order", timeoutMs: 30_000 }));
    vd = await openVolumeDriver({ secrets, pool, keystore: km, keystoreContext: ctx, iterTimeMs: 10, secretFileDir: files, timeoutMs: 60_000 });
    wrong = await keyFile(join(base, "wrong.key"), "0".repeat(64));
  });
  afterEach(async () => {
    expect(await readdir(files), "passphrase files left behind").to.deep.equal([]);
    for (const id of made.splice(0)) await barbican("DELETE", `secrets/${id}`, ctx).catch(() => undefined);
    await secrets.close();
    await km.close();
    await rm(base, { recursive: true, force: true });
  });

  for (const format of ["qcow2", "raw"] as const) {
    it(`${format}-LUKS with a Barbican-generated key: the tools open it with hex of Barbican's payload; delete removes the key`, async () => {
      const name = `gen.${format === "raw" ? "img" : "qcow2"}`;
      await vd.createXML(volXML(name, format), { generateSecret: "persistent", private: true });
      expect(km.calls).to.include("createKey").and.not.include("storeKey");
      const rec = (await vd.record(name))!;
      expect(rec).to.include({ ownsKey: true, ownsSecret: true });
      const keyId = rec.keyId!;
      made.push(keyId);

      const m = await meta(ctx, keyId);
      expect(m.status).to.equal(200);
      expect(m.json).to.include({ bit_length: 256, status: "ACTIVE" });
      expect(String(m.json["algorithm"]).toLowerCase()).to.equal("aes");
      const bytes = await payload(ctx, keyId);
      expect(bytes.length).to.equal(32);
      const hex = bytes.toString("hex");
      // the secret the volume driver stored is the same text
      expect(Buffer.from(await secrets.elevated().getValue(rec.secretUuid!)).toString("ascii")).to.equal(hex);

      const path = join(pool, name);
      const key = await keyFile(join(base, "barbican.key"), hex);
      await expectEncrypted(format, path);
      const good = await opens(format, path, key);
      expect(good.code, good.stderr).to.equal(0);
      const bad = await opens(format, path, wrong);
      expect(bad.code).to.not.equal(0);
      expect(bad.stderr).to.contain("Invalid password, cannot unlock any keyslot");
      await expectWriteRead(format, path, key);
      expect(await vd.keyCheck(name)).to.deep.equal({ ok: true, secretUuid: rec.secretUuid });

      await vd.delete(name);
      expect((await meta(ctx, keyId)).status).to.equal(404);
      expect(await readdir(pool)).to.deep.equal([]);
      expect(secrets.listSecrets(10)).to.deep.equal([]);
    });
  }

  for (const format of ["raw", "qcow2"] as const) {
    it(`${format}-LUKS BYOK from a key the user put in Barbican: encrypted under a clone, the user's key untouched`, async () => {
      // the user's key goes in through Barbican's own API, not through our client
      const userKey = randomBytes(32);
      const posted = await barbican("POST", "secrets", ctx, {
        name: "my own key",
        secret_type: "symmetric",
        algorithm: "aes",
        bit_length: 256,
        payload: userKey.toString("base64"),
        payload_content_type: "application/octet-stream",
        payload_content_encoding: "base64",
      });
      expect(posted.status).to.equal(201);
      const original = (JSON.parse(posted.bytes.toString("utf8")) as { secret_ref: string }).secret_ref.split("/").pop()!;
      made.push(original);

      const name = `byok.${format === "raw" ? "img" : "qcow2"}`;
      await vd.createXML(volXML(name, format), { keyId: original });
      expect(km.calls).to.include("copyKey");
      const rec = (await vd.record(name))!;
      const clone = rec.keyId!;
      made.push(clone);
      expect(clone).to.not.equal(original);
      expect(rec.ownsKey).to.equal(true);
      expect((await payload(ctx, clone)).equals(userKey)).to.equal(true);

      // the passphrase is lowercase hex of the bytes the user posted
      const path = join(pool, name);
      const key = await keyFile(join(base, "user.key"), userKey.toString("hex"));
      await expectEncrypted(format, path);
      const good = await opens(format, path, key);
      expect(good.code, good.stderr).to.equal(0);
      expect((await opens(format, path, wrong)).code).to.not.equal(0);
      const upper = await keyFile(join(base, "upper.key"), userKey.toString("hex").toUpperCase());
      expect((await opens(format, path, upper)).code).to.not.equal(0);
      await expectWriteRead(format, path, key);

      await vd.delete(name);
      expect((await meta(ctx, clone)).status).to.equal(404);
      expect((await meta(ctx, original)).status).to.equal(200);
      expect((await payload(ctx, original)).equals(userKey)).to.equal(true);
      expect(await readdir(pool)).to.deep.equal([]);
    });
  }

  it("another project's Barbican key cannot be named for a volume: the same error as a random id, nothing left", async () => {
    const other = freshContext("other");
    const posted = await barbican("POST", "secrets", other, {
      secret_type: "symmetric",
      algorithm: "aes",
      bit_length: 256,
      payload: randomBytes(32).toString("base64"),
      payload_content_type: "application/octet-stream",
      payload_content_encoding: "base64",
    });
    const foreign = (JSON.parse(posted.bytes.toString("utf8")) as { secret_ref: string }).secret_ref.split("/").pop()!;
    try {
      const random = "0b4e9b8e-57a4-4f61-9d0c-0d1f2a3b4c5d";
      const errs: string[] = [];
      for (const id of [foreign, random]) {
        try {
          await vd.createXML(volXML("x.img", "raw"), { keyId: id });
          errs.push("created");
        } catch (e) {
          errs.push(`${(e as Error).name}: ${(e as Error).message.replace(id, "<id>")}`);
        }
      }
      expect(errs[0]).to.equal("KeyNotFound: Key not found, uuid: <id>");
      expect(errs[1]).to.equal(errs[0]);
      expect(await readdir(pool)).to.deep.equal([]);
      expect(secrets.listSecrets(10)).to.deep.equal([]);
      expect((await payload(other, foreign)).length).to.equal(32);
    } finally {
      await barbican("DELETE", `secrets/${foreign}`, other);
    }
  });
});
