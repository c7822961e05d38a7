// Request building of the Barbican backend, checked against a MOCK Barbican
// (test/unit/barbican/mock-server.ts); the real server is in test/interop/barbican.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BarbicanKeyManager } from "../../../src/keystore/barbican.js";
import { KeyManagerError, KeyNotFound, NotAuthorized } from "../../../src/keystore/key-manager.js";
import { expectReject } from "../../helpers/reject.js";
import { MockBarbican, MockHttpServer, sendJson } from "./mock-server.js";

const CTX = { project: "proj-a", user: "user-a", roles: ["admin", "creator"] };

describe("barbican: request building (mock Barbican)", () => {
  let server: MockHttpServer;
  let barbican: MockBarbican;
  let km: BarbicanKeyManager;
  let dir: string;

  beforeEach(async () => {
    server = await MockHttpServer.start(() => undefined);
    barbican = new MockBarbican(() => server.url);
    server.handler = barbican.handler;
    km = await BarbicanKeyManager.open({ endpoint: `${server.url}/v1`, auth: { type: "noauth" }, timeoutMs: 2000 });
    dir = mkdtempSync(join(tmpdir(), "barbican-unit-"));
  });
  afterEach(async () => {
    await km.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("createKey POSTs a generated symmetric payload with the no-auth headers", async () => {
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const id = await km.createKey(CTX, { name: "vol-1", length: 256, expiration: exp });
    expect(server.requests).to.have.length(1);
    const r = server.requests[0]!;
    expect(r.method).to.equal("POST");
    expect(r.path).to.equal("/v1/secrets");
    expect(r.headers["content-type"]).to.equal("application/json");
    expect(r.headers["x-project-id"]).to.equal("proj-a");
    expect(r.headers["x-user-id"]).to.equal("user-a");
    expect(r.headers["x-roles"]).to.equal("admin,creator");
    expect(r.headers["x-auth-token"]).to.equal(undefined);
    const body = JSON.parse(r.body.toString()) as Record<string, unknown>;
    expect(body).to.include({
      secret_type: "symmetric",
      algorithm: "AES",
      bit_length: 256,
      name: "vol-1",
      payload_content_type: "application/octet-stream",
      payload_content_encoding: "base64",
      expiration: new Date(exp * 1000).toISOString(),
    });
    expect(Buffer.from(String(body.payload), "base64")).to.have.length(32);
    expect(barbican.secrets.has(id)).to.equal(true);
  });

  it("createKey generates a fresh key every time, of the requested length", async () => {
    const a = await km.createKey(CTX, { length: 128 });
    const b = await km.createKey(CTX, { length: 128 });
    const pa = barbican.secrets.get(a)!.payload;
    const pb = barbican.secrets.get(b)!.payload;
    expect(pa).to.have.length(16);
    expect(pa.equals(pb)).to.equal(false);
  });

  it("getKey reads metadata as JSON, then the payload as octets", async () => {
    const id = barbican.add("proj-a", { secret_type: "symmetric", algorithm: "AES", bit_length: 128, name: "k" }, Buffer.alloc(16, 7));
    const obj = await km.getKey(CTX, id);
    expect(server.requests.map((r) => `${r.method} ${r.path} ${String(r.headers.accept)}`)).to.deep.equal([
      `GET /v1/secrets/${id} application/json`,
      `GET /v1/secrets/${id}/payload application/octet-stream`,
    ]);
    expect(obj).to.deep.include({ id, kind: "symmetric", algorithm: "AES", bitLength: 128, name: "k", created: Date.UTC(2026, 0, 1, 0, 0, 1) / 1000 });
    expect(Buffer.from(obj.value!).equals(Buffer.alloc(16, 7))).to.equal(true);
  });

  it("getKey with metadataOnly never asks for the payload", async () => {
    const id = barbican.add("proj-a", { secret_type: "opaque" }, Buffer.from("xyz"));
    const obj = await km.getKey(CTX, id, { metadataOnly: true });
    expect(obj.value).to.equal(undefined);
    expect(obj.kind).to.equal("opaque");
    expect(server.requests.map((r) => r.path)).to.deep.equal([`/v1/secrets/${id}`]);
  });

  it("storeKey maps each kind onto secret_type and sends only the fields that kind has", async () => {
    await km.storeKey(CTX, { kind: "symmetric", algorithm: "AES", value: new Uint8Array(64) });
    await km.storeKey(CTX, { kind: "passphrase", value: new TextEncoder().encode("pass phrase"), name: "pp" });
    await km.storeKey(CTX, { kind: "opaque", value: new Uint8Array([0, 1, 2]) });
    const bodies = server.requests.map((r) => JSON.parse(r.body.toString()) as Record<string, unknown>);
    expect(bodies[0]).to.include({ secret_type: "symmetric", algorithm: "AES", bit_length: 512 });
    expect(bodies[1]).to.include({ secret_type: "passphrase", name: "pp", payload: Buffer.from("pass phrase").toString("base64") });
    expect(bodies[1]).to.not.have.any.keys("algorithm", "bit_length");
    expect(bodies[2]).to.include({ secret_type: "opaque", payload: "AAEC" });
    expect(bodies[2]).to.not.have.any.keys("algorithm", "bit_length", "name", "expiration");
  });

  it("copyKey is a get plus a store of the same kind, name and bytes", async () => {
    const id = barbican.add("proj-a", { secret_type: "passphrase", name: "pw" }, Buffer.from("s3cret"));
    const copy = await km.copyKey(CTX, id);
    expect(copy).to.not.equal(id);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      `GET /v1/secrets/${id}`,
      `GET /v1/secrets/${id}/payload`,
      "POST /v1/secrets",
    ]);
    expect(barbican.secrets.get(copy)!.payload.toString()).to.equal("s3cret");
    expect(barbican.secrets.get(copy)!.meta).to.include({ secret_type: "passphrase", name: "pw" });
  });

  it("deleteKey sends DELETE on the secret", async () => {
    const id = barbican.add("proj-a", { secret_type: "opaque" }, Buffer.from("x"));
    await km.deleteKey(CTX, id);
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([`DELETE /v1/secrets/${id}`]);
    expect(barbican.secrets.has(id)).to.equal(false);
  });

  it("a null context is NotAuthorized before any request", async () => {
    for (const ctx of [null, undefined]) {
      await expectReject(km.createKey(ctx), NotAuthorized);
      await expectReject(km.getKey(ctx, "00000000-0000-4000-8000-000000000000"), NotAuthorized);
      await expectReject(km.deleteKey(ctx, "00000000-0000-4000-8000-000000000000"), NotAuthorized);
      await expectReject(km.copyKey(ctx, "00000000-0000-4000-8000-000000000000"), NotAuthorized);
      await expectReject(km.listKeys(ctx), NotAuthorized);
      await expectReject(km.storeKey(ctx, { kind: "opaque", value: new Uint8Array([1]) }), NotAuthorized);
    }
    // No tenant in no-auth mode is no identity at all.
    await expectReject(km.listKeys({ user: "u" }), NotAuthorized);
    expect(server.requests).to.have.length(0);
  });

  it("malformed ids are KeyNotFound without a request", async () => {
    for (const bad of ["", "not-a-uuid", "../orders", "00000000-0000-4000-8000-00000000000", "00000000000040008000000000000000x"]) {
      const e = await expectReject(km.getKey(CTX, bad), KeyNotFound);
      expect(e.message).to.equal(`Key not found, uuid: ${bad}`);
      await expectReject(km.deleteKey(CTX, bad), KeyNotFound);
      await expectReject(km.copyKey(CTX, bad), KeyNotFound);
    }
    expect(server.requests).to.have.length(0);
  });

  it("token auth: the context token first, else the token file, read on every call", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, "tok-1\n");
    const tk = await BarbicanKeyManager.open({ endpoint: server.url, auth: { type: "token", tokenFile }, timeoutMs: 2000 });
    server.handler = (_req, res) => sendJson(res, 200, { secrets: [], total: 0 });
    try {
      await tk.listKeys({ token: "ctx-token" });
      await tk.listKeys({ project: "ignored" });
      writeFileSync(tokenFile, "tok-2");
      await tk.listKeys({});
    } finally {
      await tk.close();
    }
    expect(server.requests.map((r) => r.headers["x-auth-token"])).to.deep.equal(["ctx-token", "tok-1", "tok-2"]);
    expect(server.requests.every((r) => r.headers["x-project-id"] === undefined)).to.equal(true);
    // An endpoint given without /v1 gets it.
    expect(server.requests[0]!.path).to.equal("/v1/secrets");
  });

  it("createVia 'order': POST an order, poll until ACTIVE, delete the order, return the secret id", async () => {
    const secretId = "11111111-2222-4333-8444-555555555555";
    const orderId = "99999999-8888-4777-8666-555555555555";
    let polls = 0;
    server.handler = (req, res) => {
      if (req.method === "POST" && req.path === "/v1/orders") return sendJson(res, 202, { order_ref: `http://elsewhere:9311/v1/orders/${orderId}` });
      if (req.method === "GET" && req.path === `/v1/orders/${orderId}`) {
        polls++;
        return sendJson(res, 200, polls < 3 ? { status: "PENDING" } : { status: "ACTIVE", secret_ref: `http://elsewhere:9311/v1/secrets/${secretId}` });
      }
      if (req.method === "DELETE" && req.path === `/v1/orders/${orderId}`) {
        res.writeHead(204);
        return void res.end();
      }
      sendJson(res, 500, {});
    };
    const ok = await BarbicanKeyManager.open({ endpoint: `${server.url}/v1`, auth: { type: "noauth" }, timeoutMs: 5000, createVia: "order" });
    try {
      expect(await ok.createKey(CTX, { name: "o", length: 128 })).to.equal(secretId);
    } finally {
      await ok.close();
    }
    const post = server.requests[0]!;
    expect(JSON.parse(post.body.toString())).to.deep.equal({
      type: "key",
      meta: { name: "o", algorithm: "AES", bit_length: 128, payload_content_type: "application/octet-stream" },
    });
    // Polls go to our endpoint, not to the host in Barbican's order_ref.
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).to.deep.equal([
      "POST /v1/orders",
      `GET /v1/orders/${orderId}`,
      `GET /v1/orders/${orderId}`,
      `GET /v1/orders/${orderId}`,
      `DELETE /v1/orders/${orderId}`,
    ]);
  });

  it("createVia 'order': an ERROR order is a KeyManagerError with Barbican's reason, and the order is removed", async () => {
    const orderId = "99999999-8888-4777-8666-000000000001";
    server.handler = (req, res) => {
      if (req.method === "POST") return sendJson(res, 202, { order_ref: `${server.url}/v1/orders/${orderId}` });
      if (req.method === "GET") return sendJson(res, 200, { status: "ERROR", error_status_code: "500", error_reason: "Process TypeOrder failure seen" });
      res.writeHead(204);
      res.end();
    };
    const ok = await BarbicanKeyManager.open({ endpoint: `${server.url}/v1`, auth: { type: "noauth" }, timeoutMs: 5000, createVia: "order" });
    const e = await expectReject(ok.createKey(CTX), KeyManagerError);
    expect(e.message).to.match(/order 99999999-8888-4777-8666-000000000001 failed \(500\): Process TypeOrder failure seen/);
    await ok.close(); // waits for the background cleanup
    expect(server.requests.some((r) => r.method === "DELETE" && r.path === `/v1/orders/${orderId}`)).to.equal(true);
  });
});
