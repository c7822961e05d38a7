// Keystone v3 password login for the Barbican backend. No Keystone runs on this
// machine, so a MOCK Keystone (a loopback HTTP server playing POST
// /v3/auth/tokens) and a MOCK Barbican (checking X-Auth-Token) stand in.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BarbicanKeyManager } from "../../../src/keystore/barbican.js";
import { KeyManagerError, NotAuthorized } from "../../../src/keystore/key-manager.js";
import { expectReject } from "../../helpers/reject.js";
import { MockHttpServer, sendJson } from "./mock-server.js";

describe("barbican: Keystone password login (mock Keystone, mock Barbican)", () => {
  let keystone: MockHttpServer;
  let barbican: MockHttpServer;
  let dir: string;
  let passwordFile: string;
  let issued: number;
  let lifetimeMs: number;
  const valid = new Set<string>();
  let refuseAll: boolean;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "barbican-ks-"));
    passwordFile = join(dir, "password");
    writeFileSync(passwordFile, "correct horse\n");
    issued = 0;
    lifetimeMs = 3_600_000;
    valid.clear();
    refuseAll = false;
    keystone = await MockHttpServer.start((req, res) => {
      const body = JSON.parse(req.body.toString()) as { auth: { identity: { password: { user: { password: string } } } } };
      if (req.path !== "/identity/v3/auth/tokens" || body.auth.identity.password.user.password !== "correct horse") {
        return sendJson(res, 401, { error: { code: 401, message: "The request you have made requires authentication." } });
      }
      const token = `tok-${++issued}`;
      valid.add(token);
      sendJson(res, 201, { token: { expires_at: new Date(Date.now() + lifetimeMs).toISOString(), methods: ["password"] } }, { "X-Subject-Token": token });
    });
    barbican = await MockHttpServer.start((req, res) => {
      const t = req.headers["x-auth-token"];
      if (refuseAll || typeof t !== "string" || !valid.has(t)) return sendJson(res, 401, { code: 401 });
      sendJson(res, 200, { secrets: [], total: 0 });
    });
  });
  afterEach(async () => {
    await keystone.close();
    await barbican.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const open = (file = passwordFile): Promise<BarbicanKeyManager> =>
    BarbicanKeyManager.open({
      endpoint: `${barbican.url}/v1`,
      auth: { type: "keystone", url: `${keystone.url}/identity/v3`, username: "nova", passwordFile: file, userDomain: "Default", project: "service", projectDomain: "ops" },
      timeoutMs: 2000,
    });

  it("logs in once with the password from the file and reuses the token until it nears expiry", async () => {
    const km = await open();
    try {
      await km.listKeys({});
      await km.listKeys({});
      await Promise.all([km.listKeys({}), km.listKeys({}), km.listKeys({})]);
    } finally {
      await km.close();
    }
    expect(keystone.requests).to.have.length(1);
    const login = keystone.requests[0]!;
    expect(login.method).to.equal("POST");
    expect(login.headers["content-type"]).to.equal("application/json");
    expect(JSON.parse(login.body.toString())).to.deep.equal({
      auth: {
        identity: { methods: ["password"], password: { user: { name: "nova", domain: { name: "Default" }, password: "correct horse" } } },
        scope: { project: { name: "service", domain: { name: "ops" } } },
      },
    });
    expect(barbican.requests.map((r) => r.headers["x-auth-token"])).to.deep.equal(Array(5).fill("tok-1"));
  });

  it("concurrent first calls share one login", async () => {
    const km = await open();
    try {
      await Promise.all(Array.from({ length: 6 }, () => km.listKeys({})));
    } finally {
      await km.close();
    }
    expect(keystone.requests).to.have.length(1);
  });

  it("a short-lived token is renewed before it expires", async () => {
    lifetimeMs = 600;
    const km = await open();
    try {
      await km.listKeys({});
      await km.listKeys({});
      await sleep(350); // past half-life
      await km.listKeys({});
    } finally {
      await km.close();
    }
    expect(barbican.requests.map((r) => r.headers["x-auth-token"])).to.deep.equal(["tok-1", "tok-1", "tok-2"]);
  });

  it("the caller's own token wins over the service login", async () => {
    valid.add("user-token");
    const km = await open();
    try {
      await km.listKeys({ token: "user-token" });
    } finally {
      await km.close();
    }
    expect(keystone.requests).to.have.length(0);
    expect(barbican.requests[0]!.headers["x-auth-token"]).to.equal("user-token");
  });

  it("a token Barbican refuses (revoked early) is dropped and the call retried once after a new login", async () => {
    const km = await open();
    try {
      await km.listKeys({});
      valid.delete("tok-1");
      await km.listKeys({});
      expect(barbican.requests.map((r) => r.headers["x-auth-token"])).to.deep.equal(["tok-1", "tok-1", "tok-2"]);
      // If Barbican refuses the fresh token too, that is NotAuthorized, after exactly one more login.
      refuseAll = true;
      const before = keystone.requests.length;
      await expectReject(km.listKeys({}), NotAuthorized);
      expect(keystone.requests.length - before).to.equal(1);
    } finally {
      await km.close();
    }
  });

  it("Keystone refusing the login is NotAuthorized, the cause naming Keystone; Barbican is never asked", async () => {
    writeFileSync(passwordFile, "wrong");
    const km = await open();
    try {
      const e = await expectReject(km.createKey({}), NotAuthorized);
      expect((e.cause as Error).message).to.equal(
        `Key manager error: Keystone at ${keystone.url}/identity/v3 refused the login of user 'nova' to project 'service' (401)`,
      );
      expect(`${e.message} ${(e.cause as Error).message}`).to.not.contain("wrong");
    } finally {
      await km.close();
    }
    expect(barbican.requests).to.have.length(0);
  });

  it("a Keystone that is down is a clear KeyManagerError naming it", async () => {
    const url = keystone.url;
    await keystone.close();
    keystone = await MockHttpServer.start(() => undefined); // for afterEach
    const km = await BarbicanKeyManager.open({
      endpoint: `${barbican.url}/v1`,
      auth: { type: "keystone", url: `${url}/identity/v3`, username: "nova", passwordFile, userDomain: "Default", project: "service", projectDomain: "ops" },
      timeoutMs: 2000,
    });
    try {
      const e = await expectReject(km.listKeys({}), KeyManagerError);
      expect(e.message).to.match(/Keystone at http:\/\/127\.0\.0\.1:\d+\/identity\/v3 refused the connection \(ECONNREFUSED\)/);
    } finally {
      await km.close();
    }
  });

  it("an unreadable password file fails at open", async () => {
    const e = await expectReject(open(join(dir, "missing")), KeyManagerError);
    expect(e.message).to.match(/cannot read keystone password file .*missing \(ENOENT\)/);
  });
});
