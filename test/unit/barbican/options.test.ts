// Configuration checks of the Barbican backend: every mistake is a
// KeyManagerError naming the field, raised at open, before any request.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openBarbicanKeystore } from "../../../src/keystore/barbican.js";
import { type BarbicanKeystoreOptions, loadBarbicanSettings } from "../../../src/keystore/barbican/options.js";
import { KeyManagerError } from "../../../src/keystore/key-manager.js";
import { expectReject } from "../../helpers/reject.js";

describe("barbican: configuration", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "barbican-opt-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const base: BarbicanKeystoreOptions = { endpoint: "http://127.0.0.1:9311/v1", auth: { type: "noauth" } };

  it("defaults: 30 s deadline, 3 retries, create by secret; /v1 added when missing", async () => {
    const s = await loadBarbicanSettings({ ...base, endpoint: "http://127.0.0.1:9311/" });
    expect(s.endpoint.href).to.equal("http://127.0.0.1:9311/v1");
    expect(s.endpointLabel).to.equal("http://127.0.0.1:9311/v1");
    expect(s).to.include({ timeoutMs: 30000, retries: 3, createVia: "secret" });
    const k = await openBarbicanKeystore({ ...base, type: "barbican", timeoutMs: 500, retries: 0, createVia: "order" });
    expect(k.type).to.equal("barbican");
    expect(k.supports).to.deep.equal({ expiration: true, kinds: ["symmetric", "passphrase", "opaque"] });
    await k.close();
  });

  const bad: [string, BarbicanKeystoreOptions, RegExp][] = [
    ["no endpoint", { ...base, endpoint: "" }, /endpoint is missing/],
    ["not a URL", { ...base, endpoint: "barbican:9311" }, /endpoint must be an http or https URL/],
    ["ftp", { ...base, endpoint: "ftp://h/v1" }, /endpoint must be an http or https URL, not ftp:/],
    ["credentials in the URL", { ...base, endpoint: "http://u:p@h/v1" }, /must not carry credentials/],
    ["a query", { ...base, endpoint: "http://h/v1?x=1" }, /must not have a query/],
    ["timeout 0", { ...base, timeoutMs: 0 }, /timeoutMs must be an integer/],
    ["timeout 1.5", { ...base, timeoutMs: 1.5 }, /timeoutMs must be an integer/],
    ["retries -1", { ...base, retries: -1 }, /retries must be an integer in 0\.\.10/],
    ["createVia", { ...base, createVia: "magic" as "order" }, /createVia must be 'secret' or 'order'/],
    ["auth type", { ...base, auth: { type: "basic" } as never }, /unknown auth type 'basic'/],
    ["keystone url", { ...base, auth: { type: "keystone", url: "nope", username: "u", passwordFile: "/x", userDomain: "D", project: "p", projectDomain: "D" } }, /keystone url is not a URL/],
    ["keystone user", { ...base, auth: { type: "keystone", url: "http://k/v3", username: "", passwordFile: "/x", userDomain: "D", project: "p", projectDomain: "D" } }, /keystone username is missing/],
    ["tls on http", { ...base, tls: { ca: "/x" } }, /tls is set but the endpoint is not https/],
    ["cert without key", { ...base, endpoint: "https://h/v1", tls: { cert: "/x" } }, /tls cert and key go together/],
    ["unreadable ca", { ...base, endpoint: "https://h/v1", tls: { ca: "/nonexistent/ca.pem" } }, /cannot read tls ca file \/nonexistent\/ca\.pem \(ENOENT\)/],
    ["unreadable token file", { ...base, auth: { type: "token", tokenFile: "/nonexistent/token" } }, /cannot read auth token file \/nonexistent\/token \(ENOENT\)/],
    ["wrong type", { ...base, type: "kmip" as "barbican" }, /type is 'kmip', not 'barbican'/],
  ];
  for (const [what, cfg, re] of bad) {
    it(`rejects ${what}`, async () => {
      const e = await expectReject(openBarbicanKeystore(cfg), KeyManagerError);
      expect(e.message).to.match(/^Key manager error: invalid Barbican keystore configuration: /);
      expect(e.message).to.match(re);
    });
  }

  it("reads TLS files at open (an https client with CA, client cert and key)", async () => {
    for (const f of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(dir, f), `-----BEGIN ${f}-----\n`);
    const s = await loadBarbicanSettings({
      ...base,
      endpoint: "https://barbican.example:9311/v1",
      tls: { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem"), version: "1.3" },
    });
    expect(s.tls?.ca?.toString()).to.equal("-----BEGIN ca.pem-----\n");
    expect(s.tls).to.include({ minVersion: "TLSv1.3", maxVersion: "TLSv1.3" });
  });
});
