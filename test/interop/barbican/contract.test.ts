// The Barbican backend against the real Barbican API (no-auth): what our
// calls leave on the server, read back with raw requests that bypass our
// client, plus paging past castellan's 10 and the two-project rule.
import { expect } from "chai";
import { randomBytes, randomUUID } from "node:crypto";
import { type BarbicanKeyManager, openBarbicanKeystore } from "../../../src/keystore/barbican.js";
import { type Context, KeyNotFound } from "../../../src/keystore/key-manager.js";
import { expectReject } from "../../helpers/reject.js";
import { BARBICAN_URL, freshContext, raw } from "./peer.js";

describe("barbican interop: contract against the real Barbican API", function () {
  this.timeout(60_000);
  let km: BarbicanKeyManager;
  let A: Context;
  let B: Context;

  beforeEach(async () => {
    km = (await openBarbicanKeystore({ endpoint: BARBICAN_URL, auth: { type: "noauth" }, timeoutMs: 15_000 })) as BarbicanKeyManager;
    A = freshContext("contract-a");
    B = freshContext("contract-b");
  });
  afterEach(() => km.close());

  it("createKey leaves a symmetric AES secret whose payload is the bytes getKey returns", async () => {
    const id = await km.createKey(A, { name: "vol-key", length: 256 });
    const meta = await raw(BARBICAN_URL, "GET", `secrets/${id}`, A.project!);
    expect(meta.status).to.equal(200);
    expect(meta.json).to.include({ secret_type: "symmetric", algorithm: "AES", bit_length: 256, name: "vol-key", status: "ACTIVE", creator_id: "user-contract-a" });
    const res = await fetch(`${BARBICAN_URL}/secrets/${id}/payload`, { headers: { "X-Project-Id": A.project!, Accept: "application/octet-stream" } });
    const onServer = Buffer.from(await res.arrayBuffer());
    const got = await km.getKey(A, id);
    expect(onServer).to.have.length(32);
    expect(Buffer.from(got.value!).equals(onServer)).to.equal(true);
    expect(got.created).to.be.closeTo(Date.now() / 1000, 30);
    const bare = await km.getKey(A, id, { metadataOnly: true });
    expect(bare.value).to.equal(undefined);
    expect(bare).to.deep.equal({ id, kind: "symmetric", algorithm: "AES", bitLength: 256, name: "vol-key", created: got.created });
  });

  it("stores each kind as the matching secret_type, byte for byte", async () => {
    const cases = [
      { kind: "symmetric" as const, algorithm: "AES", value: new Uint8Array(randomBytes(64)), type: "symmetric" },
      { kind: "passphrase" as const, value: new TextEncoder().encode("pässphrase with ünïcode"), type: "passphrase" },
      { kind: "opaque" as const, value: Uint8Array.from({ length: 256 }, (_, i) => i), type: "opaque" },
    ];
    for (const c of cases) {
      const { type, ...obj } = c;
      const id = await km.storeKey(A, { ...obj, name: `n-${type}` });
      const meta = await raw(BARBICAN_URL, "GET", `secrets/${id}`, A.project!);
      expect((meta.json as { secret_type: string }).secret_type).to.equal(type);
      const got = await km.getKey(A, id);
      expect(got.kind).to.equal(c.kind);
      expect(Buffer.from(got.value!).equals(Buffer.from(c.value))).to.equal(true);
    }
  });

  it("copyKey makes a second secret with the same bytes; deleting the source leaves the copy", async () => {
    const src = await km.storeKey(A, { kind: "passphrase", value: new TextEncoder().encode("copy me"), name: "c" });
    const copy = await km.copyKey(A, src);
    expect(copy).to.not.equal(src);
    await km.deleteKey(A, src);
    expect((await raw(BARBICAN_URL, "GET", `secrets/${src}`, A.project!)).status).to.equal(404);
    const got = await km.getKey(A, copy);
    expect(new TextDecoder().decode(got.value)).to.equal("copy me");
    expect(got).to.include({ kind: "passphrase", name: "c" });
  });

  it("lists past castellan's 10 and past one 100-item page", async function () {
    this.timeout(120_000);
    const ids: string[] = [];
    for (let i = 0; i < 130; i++) ids.push(await km.storeKey(A, { kind: "opaque", value: Uint8Array.of(i), name: i < 12 ? "first-dozen" : `item-${i}` }));
    // What one unpaged call (castellan's) would see:
    const firstPage = await raw(BARBICAN_URL, "GET", "secrets", A.project!);
    expect((firstPage.json as { secrets: unknown[]; total: number }).secrets).to.have.length(10);
    expect((firstPage.json as { total: number }).total).to.equal(130);
    const all = await km.listKeys(A, { metadataOnly: true });
    expect(all.map((o) => o.id).sort()).to.deep.equal([...ids].sort());
    // A filter that itself spans two default pages, with values:
    const dozen = await km.listKeys(A, { name: "first-dozen", kind: "opaque" });
    expect(dozen.map((o) => o.value![0]).sort((a, b) => a! - b!)).to.deep.equal(Array.from({ length: 12 }, (_, i) => i));
    expect(await km.listKeys(A, { kind: "symmetric" })).to.deep.equal([]);
  });

  it("createVia 'order': Barbican generates the key and no order is left behind", async () => {
    const ok = await openBarbicanKeystore({ endpoint: BARBICAN_URL, auth: { type: "noauth" }, timeoutMs: 15_000, createVia: "order" });
    try {
      const id = await ok.createKey(A, { name: "ordered", length: 256 });
      const got = await ok.getKey(A, id);
      expect(got).to.include({ kind: "symmetric", algorithm: "AES", bitLength: 256, name: "ordered" });
      expect(got.value).to.have.length(32);
      const orders = await raw(BARBICAN_URL, "GET", "orders", A.project!);
      expect((orders.json as { total: number }).total).to.equal(0);
    } finally {
      await ok.close();
    }
  });

  describe("two projects", () => {
    it("Barbican itself says 403 to project B; our client shows B the same error as for a random id", async () => {
      const secret = new Uint8Array(randomBytes(32));
      const idA = await km.storeKey(A, { kind: "symmetric", algorithm: "AES", value: secret, name: "a-only" });
      // the server does tell B "forbidden", not "absent": the folding is ours
      expect((await raw(BARBICAN_URL, "GET", `secrets/${idA}`, B.project!)).status).to.equal(403);
      expect((await raw(BARBICAN_URL, "DELETE", `secrets/${idA}`, B.project!)).status).to.equal(403);

      const shape = (e: KeyNotFound, id: string) => ({ cls: e.constructor.name, code: e.code, keyId: e.keyId === id, msg: e.message.split(id).join("<id>"), keys: Object.keys(e).sort() });
      const ops: [string, (id: string) => Promise<unknown>][] = [
        ["get", (id) => km.getKey(B, id)],
        ["get metadata", (id) => km.getKey(B, id, { metadataOnly: true })],
        ["copy", (id) => km.copyKey(B, id)],
        ["delete", (id) => km.deleteKey(B, id)],
      ];
      for (const [what, op] of ops) {
        const foreign = await expectReject(op(idA), KeyNotFound);
        const rnd = randomUUID();
        const absent = await expectReject(op(rnd), KeyNotFound);
        expect(shape(foreign, idA), what).to.deep.equal(shape(absent, rnd));
        expect(`${foreign.message}${foreign.stack}`).to.not.contain(Buffer.from(secret).toString("hex"));
      }
      // nothing happened to A's key, and B's failed copy made nothing
      const still = await km.getKey(A, idA);
      expect(Buffer.from(still.value!).equals(Buffer.from(secret))).to.equal(true);
      expect((await raw(BARBICAN_URL, "GET", "secrets", B.project!)).json).to.include({ total: 0 });
      expect(await km.listKeys(B, { name: "a-only" })).to.deep.equal([]);
    });
  });
});
