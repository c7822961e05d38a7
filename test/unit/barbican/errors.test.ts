// Error mapping, deadlines and retries of the Barbican backend, against MOCK
// HTTP servers that answer with scripted statuses, hang, or drop connections.
import { expect } from "chai";
import * as net from "node:net";
import { BarbicanKeyManager } from "../../../src/keystore/barbican.js";
import { KeyManagerError, KeyNotFound, NotAuthorized } from "../../../src/keystore/key-manager.js";
import { expectReject } from "../../helpers/reject.js";
import { MockHttpServer, sendJson } from "./mock-server.js";

const CTX = { project: "p" };
const ID = "0f0e0d0c-0b0a-4908-8706-050403020100";
const META = { secret_type: "opaque", created: "2026-01-01T00:00:00", secret_ref: `http://x/v1/secrets/${ID}`, content_types: { default: "application/octet-stream" } };

describe("barbican: error mapping, deadlines, retries (mock servers)", () => {
  let server: MockHttpServer;
  let km: BarbicanKeyManager;
  const open = async (extra: { timeoutMs?: number; retries?: number } = {}): Promise<BarbicanKeyManager> =>
    BarbicanKeyManager.open({ endpoint: `${server.url}/v1`, auth: { type: "noauth" }, timeoutMs: 2000, ...extra });

  beforeEach(async () => {
    server = await MockHttpServer.start(() => undefined);
    km = await open();
  });
  afterEach(async () => {
    await km.close();
    await server.close();
  });

  for (const status of [403, 404]) {
    it(`${status} on get, metadataOnly get, delete and copy is KeyNotFound, worded as for any absent id`, async () => {
      server.handler = (_req, res) => sendJson(res, status, { code: status, title: "x", description: "Secret retrieval attempt not allowed" });
      // one call at a time: a rejection not yet awaited would be reported as unhandled
      for (const call of [() => km.getKey(CTX, ID), () => km.getKey(CTX, ID, { metadataOnly: true }), () => km.deleteKey(CTX, ID), () => km.copyKey(CTX, ID)]) {
        const e = await expectReject(call(), KeyNotFound);
        expect(e.message).to.equal(`Key not found, uuid: ${ID}`);
        expect(e.code).to.equal("KEY_NOT_FOUND");
        // No cause: it would tell 403 from 404.
        expect(e.cause).to.equal(undefined);
      }
    });
  }

  it("403 on the payload read (after readable metadata) is KeyNotFound too", async () => {
    server.handler = (req, res) => (req.path.endsWith("/payload") ? sendJson(res, 403, { code: 403 }) : sendJson(res, 200, META));
    await expectReject(km.getKey(CTX, ID), KeyNotFound);
  });

  it("403 on create and store is NotAuthorized; 401 anywhere is NotAuthorized", async () => {
    server.handler = (_req, res) => sendJson(res, 403, { code: 403, title: "Forbidden", description: "Secret creation attempt not allowed" });
    const e = await expectReject(km.createKey(CTX), NotAuthorized);
    expect(e.message).to.equal("You are not authorized to complete this action.");
    expect(String((e.cause as Error).message)).to.match(/answered 403 Forbidden to POST \/v1\/secrets$/);
    await expectReject(km.storeKey(CTX, { kind: "opaque", value: new Uint8Array([1]) }), NotAuthorized);
    server.handler = (_req, res) => sendJson(res, 401, { code: 401 });
    await expectReject(km.getKey(CTX, ID), NotAuthorized);
    await expectReject(km.deleteKey(CTX, ID), NotAuthorized);
    await expectReject(km.listKeys(CTX), NotAuthorized);
    await expectReject(km.createKey(CTX), NotAuthorized);
  });

  it("other statuses are KeyManagerErrors naming the endpoint, the request and the status", async () => {
    server.handler = (_req, res) => sendJson(res, 500, { code: 500, title: "Internal Server Error", description: "db\nlocked" });
    const e = await expectReject(km.getKey(CTX, ID), KeyManagerError);
    expect(e.message).to.equal(`Key manager error: Barbican at ${server.url}/v1 answered 500 Internal Server Error to GET /v1/secrets/${ID}: db locked`);
    server.handler = (_req, res) => sendJson(res, 400, { code: 400, title: "Bad Request", description: "Invalid filter" });
    const l = await expectReject(km.listKeys(CTX, { kind: "passphrase" }), KeyManagerError);
    expect(l.message).to.contain("answered 400 Bad Request to GET /v1/secrets?secret_type=passphrase&limit=100&offset=0: Invalid filter");
  });

  it("an error answer to a request carrying key material never quotes the server (it may echo the payload)", async () => {
    let sent = "";
    server.handler = (req, res) => {
      sent = String((JSON.parse(req.body.toString()) as { payload: string }).payload);
      sendJson(res, 400, { code: 400, title: "Bad Request", description: `Provided object does not match schema 'Secret': ${sent} is bad` });
    };
    const secret = new Uint8Array(32).fill(0xab);
    const e = await expectReject(km.storeKey(CTX, { kind: "symmetric", algorithm: "AES", value: secret }), KeyManagerError);
    expect(sent).to.equal(Buffer.from(secret).toString("base64"));
    const shown = `${e.message} ${e.stack ?? ""} ${JSON.stringify(e)} ${String(e.cause)}`;
    expect(shown).to.not.contain(sent);
    expect(shown).to.not.contain(Buffer.from(secret).toString("hex"));
    expect(e.message).to.equal(`Key manager error: Barbican at ${server.url}/v1 answered 400 Bad Request to POST /v1/secrets`);
  });

  it("GET is retried after 503 with backoff; POST is sent once", async () => {
    let n = 0;
    server.handler = (_req, res) => (++n < 3 ? sendJson(res, 503, { code: 503 }) : sendJson(res, 200, META));
    const obj = await km.getKey(CTX, ID, { metadataOnly: true });
    expect(obj.id).to.equal(ID);
    expect(server.requests).to.have.length(3);

    server.requests.length = 0;
    server.handler = (_req, res) => sendJson(res, 503, { code: 503, title: "Service Unavailable" });
    const e = await expectReject(km.createKey(CTX), KeyManagerError);
    expect(e.message).to.contain("answered 503 Service Unavailable to POST /v1/secrets");
    expect(server.requests).to.have.length(1);
  });

  it("retries stop after `retries` extra attempts", async () => {
    const k2 = await open({ retries: 2 });
    server.handler = (_req, res) => sendJson(res, 502, { code: 502 });
    try {
      await expectReject(k2.deleteKey(CTX, ID), KeyManagerError);
    } finally {
      await k2.close();
    }
    expect(server.requests).to.have.length(3);
  });

  it("a DELETE whose answer was lost is retried, and the 404 that follows counts as done", async () => {
    let n = 0;
    server.handler = (req, res) => {
      if (++n === 1) return void res.socket?.destroy(); // processed, but no answer
      sendJson(res, 404, { code: 404 });
    };
    await km.deleteKey(CTX, ID);
    expect(server.requests.map((r) => r.method)).to.deep.equal(["DELETE", "DELETE"]);
    // a first-attempt 404 is still KeyNotFound
    await expectReject(km.deleteKey(CTX, ID), KeyNotFound);
  });

  it("a server that accepts and never answers: the call fails within timeoutMs, naming the endpoint", async () => {
    const hang = net.createServer((s) => s.on("error", () => undefined)); // reads, never writes
    await new Promise<void>((r) => hang.listen(0, "127.0.0.1", r));
    const port = (hang.address() as net.AddressInfo).port;
    const k = await BarbicanKeyManager.open({ endpoint: `http://127.0.0.1:${port}/v1`, auth: { type: "noauth" }, timeoutMs: 300 });
    try {
      for (const op of [() => k.getKey(CTX, ID), () => k.createKey(CTX), () => k.listKeys(CTX)]) {
        const t0 = Date.now();
        const e = await expectReject(op(), KeyManagerError);
        const took = Date.now() - t0;
        expect(e.message).to.match(new RegExp(`Barbican at http://127\\.0\\.0\\.1:${port}/v1 did not answer within 300 ms \\((GET|POST) /v1/secrets`));
        expect(took).to.be.within(250, 1000);
      }
    } finally {
      await k.close();
      hang.close();
    }
  });

  it("a closed port: ECONNREFUSED named clearly, GET after its retries, POST at once", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const k = await BarbicanKeyManager.open({ endpoint: `http://127.0.0.1:${port}/v1`, auth: { type: "noauth" }, timeoutMs: 3000, retries: 2 });
    try {
      const g = await expectReject(k.getKey(CTX, ID), KeyManagerError);
      expect(g.message).to.equal(
        `Key manager error: Barbican at http://127.0.0.1:${port}/v1 refused the connection (ECONNREFUSED): is the server running? (GET /v1/secrets/${ID}, 3 attempts)`,
      );
      const p = await expectReject(k.storeKey(CTX, { kind: "opaque", value: new Uint8Array([9]) }), KeyManagerError);
      expect(p.message).to.equal(`Key manager error: Barbican at http://127.0.0.1:${port}/v1 refused the connection (ECONNREFUSED): is the server running? (POST /v1/secrets)`);
    } finally {
      await k.close();
    }
  });

  it("writes go one at a time by default (Barbican on sqlite cannot take overlapping writes); reads do not wait", async () => {
    let inFlight = 0;
    let most = 0;
    server.handler = async (req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight--;
      if (req.method === "POST") return sendJson(res, 201, { secret_ref: `http://x/v1/secrets/${ID}` });
      sendJson(res, 200, META);
    };
    await Promise.all(Array.from({ length: 5 }, () => km.createKey(CTX)));
    expect(most).to.equal(1);
    most = 0;
    await Promise.all(Array.from({ length: 5 }, () => km.getKey(CTX, ID, { metadataOnly: true })));
    expect(most).to.be.greaterThan(1);
  });

  it("a write queued behind a stuck one still fails within timeoutMs", async () => {
    const k = await open({ timeoutMs: 300 });
    server.handler = () => undefined; // never answers
    try {
      const t0 = Date.now();
      const results = await Promise.allSettled([k.createKey(CTX), k.createKey(CTX), k.deleteKey(CTX, ID)]);
      expect(Date.now() - t0).to.be.below(800);
      for (const r of results) {
        expect(r.status).to.equal("rejected");
        expect(String((r as PromiseRejectedResult).reason)).to.match(/did not answer within 300 ms/);
      }
    } finally {
      await k.close();
    }
  });

  it("a non-JSON answer is a KeyManagerError, not a crash", async () => {
    server.handler = (_req, res) => {
      res.writeHead(200, { "Content-Type": "text/html" });
      res.end("<html>proxy</html>");
    };
    const e = await expectReject(km.getKey(CTX, ID, { metadataOnly: true }), KeyManagerError);
    expect(e.message).to.match(/sent a reply to GET \/secrets\/\{id\} that is not a JSON object/);
  });

  it("a closed keystore refuses further calls", async () => {
    await km.close();
    const e = await expectReject(km.listKeys(CTX), KeyManagerError);
    expect(e.message).to.match(/is closed/);
  });
});
