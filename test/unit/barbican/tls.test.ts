// https to Barbican: the configured CA is trusted, an unknown server
// certificate is refused with a clear TLS error, and the client certificate
// is presented. The server is a MOCK https Barbican with throwaway
// certificates made by openssl at test time.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { BarbicanKeyManager } from "../../../src/keystore/barbican.js";
import { KeyManagerError } from "../../../src/keystore/key-manager.js";
import { expectReject } from "../../helpers/reject.js";

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
}

describe("barbican: https with CA and client certificate (mock https server)", function () {
  this.timeout(20_000);
  let dir: string;
  let server: https.Server;
  let port: number;
  const clientCNs: (string | undefined)[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "barbican-tls-"));
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
    openssl(dir, "req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test-ca");
    for (const [name, ext] of [["server", "subjectAltName=IP:127.0.0.1"], ["client", "extendedKeyUsage=clientAuth"]] as const) {
      openssl(dir, "req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${name}-cn`);
      writeFileSync(join(dir, `${name}.ext`), `${ext}\n`);
      openssl(dir, "x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`);
    }
    server = https.createServer(
      { key: readFileSync(join(dir, "server.key")), cert: readFileSync(join(dir, "server.pem")), ca: readFileSync(join(dir, "ca.pem")), requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = (req.socket as TLSSocket).getPeerCertificate();
        clientCNs.push(peer && Object.keys(peer).length ? String(peer.subject.CN) : undefined);
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ secrets: [], total: 0 }));
      },
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it("trusts the configured CA and presents the client certificate", async () => {
    const km = await BarbicanKeyManager.open({
      endpoint: `https://127.0.0.1:${port}/v1`,
      auth: { type: "noauth" },
      tls: { ca: join(dir, "ca.pem"), cert: join(dir, "client.pem"), key: join(dir, "client.key") },
      timeoutMs: 3000,
    });
    try {
      expect(await km.listKeys({ project: "p" })).to.deep.equal([]);
    } finally {
      await km.close();
    }
    expect(clientCNs.at(-1)).to.equal("client-cn");
  });

  it("without the CA, the server certificate is refused with an error naming the endpoint", async () => {
    const km = await BarbicanKeyManager.open({ endpoint: `https://127.0.0.1:${port}/v1`, auth: { type: "noauth" }, timeoutMs: 3000 });
    try {
      const e = await expectReject(km.listKeys({ project: "p" }), KeyManagerError);
      expect(e.message).to.match(new RegExp(`^Key manager error: Barbican at https://127\\.0\\.0\\.1:${port}/v1 failed the TLS handshake \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\)`));
    } finally {
      await km.close();
    }
  });
});
