// Our KMIP server on a free loopback port, with a throwaway CA, server
// certificate and LevelDB directory; clientOptions(cn) issues a client
// certificate for a new owner.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KmipClientOptions } from "../../../src/keystore/kmip/client.js";
import { startKmipServer, type KmipServer, type KmipServerConfig } from "../../../src/keystore/kmip/server.js";
import { TestCa, type Issued, type IssueOptions } from "./pki.js";

export interface TestServer {
  readonly dir: string;
  readonly ca: TestCa;
  readonly config: KmipServerConfig;
  server: KmipServer;
  readonly port: number;
  issue(cn: string, opts?: IssueOptions): Issued;
  clientOptions(cn: string, extra?: Partial<KmipClientOptions>): KmipClientOptions;
  /** close and start again on the same data (durability) */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestServer(overrides: Partial<KmipServerConfig> = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "kmip-server-"));
  const ca = TestCa.create(join(dir, "pki"));
  const srvCert = ca.issue("localhost", { eku: "serverAuth" });
  const config: KmipServerConfig = {
    host: "127.0.0.1",
    port: 0,
    cert: srvCert.cert,
    key: srvCert.key,
    ca: ca.cert,
    dataDir: join(dir, "db"),
    sealKeyFile: join(dir, "seal.key"),
    ...overrides,
  };
  let server = await startKmipServer(config);
  const t: TestServer = {
    dir,
    ca,
    config,
    server,
    get port() {
      return server.port;
    },
    issue: (cn, opts) => ca.issue(cn, opts),
    clientOptions(cn, extra = {}) {
      const me = ca.issue(cn);
      return { host: "127.0.0.1", port: server.port, ca: readFileSync(ca.cert), cert: readFileSync(me.cert), key: readFileSync(me.key), ...extra };
    },
    async restart() {
      await server.close();
      server = await startKmipServer({ ...config, port: server.port });
      t.server = server;
    },
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return t;
}
