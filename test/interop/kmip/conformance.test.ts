// The keystore conformance suite for the KMIP backend, against PyKMIP's
// server (the real peer) and against our own server. KMIP identity is the
// client certificate, so each test gets two fresh certificates (owners A and
// B, each with its own KeyManager) — a new CN owns nothing yet.

import { readFileSync } from "node:fs";
import { keystoreConformance } from "../../keystore/conformance.js";
import { KmipKeyManager } from "../../../src/keystore/kmip/backend.js";
import { KmipClient } from "../../../src/keystore/kmip/client.js";
import { peerIdentities, pykmipPeer } from "./peer.js";
import { startTestServer, type TestServer } from "../../unit/kmip/server-fixture.js";

let n = 0;
const unique = (p: string): string => `${p}-${process.pid}-${Date.now()}-${++n}`;

describe("KMIP backend against PyKMIP", function () {
  const peer = pykmipPeer();
  const ids = peerIdentities();
  after(() => ids.dispose());
  const open = (cn: string): KmipKeyManager => {
    const me = ids.issue(cn);
    return new KmipKeyManager(
      new KmipClient({ host: peer.host, port: peer.port, ca: readFileSync(peer.ca), cert: readFileSync(me.cert), key: readFileSync(me.key), tlsVersion: "TLSv1.2" }),
    );
  };
  keystoreConformance({
    name: "kmip (PyKMIP 0.10 server)",
    timeoutMs: 60_000,
    factory: async () => ({ km: open(unique("conf-a")), kmB: open(unique("conf-b")), ctxA: { user: "a" }, ctxB: { user: "b" } }),
  });
});

describe("KMIP backend against our KMIP server", function () {
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer();
  });
  after(async () => {
    await srv?.stop();
  });
  keystoreConformance({
    name: "kmip (virsecret KMIP server)",
    timeoutMs: 60_000,
    factory: async () => ({
      km: new KmipKeyManager(new KmipClient(srv.clientOptions(unique("conf-a")))),
      kmB: new KmipKeyManager(new KmipClient(srv.clientOptions(unique("conf-b")))),
      ctxA: { user: "a" },
      ctxB: { user: "b" },
    }),
  });
});
