// The PyKMIP peer started by shared/peers/pykmip.sh: its address and TLS
// files from /tmp/pykmip-peer/env, and fresh client identities signed by its
// throwaway test CA (a new certificate CN is a new, empty KMIP owner).

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestCa } from "../../unit/kmip/pki.js";

export const PEER_DIR = process.env.KMIP_PEER_DIR ?? "/tmp/pykmip-peer";

export interface PyKmipPeer {
  readonly host: string;
  readonly port: number;
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  readonly clientConf: string;
}

export function pykmipPeer(): PyKmipPeer {
  const envFile = join(PEER_DIR, "env");
  if (!existsSync(envFile)) throw new Error(`PyKMIP peer is not running: ${envFile} is missing (run shared/peers/pykmip.sh)`);
  const env: Record<string, string> = {};
  for (const line of readFileSync(envFile, "utf8").split("\n")) {
    const m = /^(\w+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
  }
  return {
    host: env.KMIP_HOST,
    port: Number(env.KMIP_PORT),
    ca: env.KMIP_CA,
    cert: env.KMIP_CERT,
    key: env.KMIP_KEY,
    clientConf: join(PEER_DIR, "client.conf"),
  };
}

/** Issues client certificates under the peer's CA into a temp dir; call dispose() when done. */
export function peerIdentities(): { issue(cn: string): { cert: string; key: string }; dispose(): void } {
  const dir = mkdtempSync(join(tmpdir(), "kmip-peer-ids-"));
  const ca = new TestCa(dir, join(PEER_DIR, "ca.crt"), join(PEER_DIR, "ca.key"));
  return {
    issue: (cn) => ca.issue(cn),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
