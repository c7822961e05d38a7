// KMIP benchmark: Create+Get round trips per second (one Create of an
// AES-256 key, then a Get of it) for our client and PyKMIP's client, each
// against PyKMIP's server (the peer from shared/peers/pykmip.sh) and against
// our server, with 1 and 8 concurrent clients (each its own TLS connection).
// Exported for `npm run bench`; runnable alone: `npx tsx bench/kmip.ts [seconds]`.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { KmipClient, type KmipClientOptions } from "../src/keystore/kmip/client.js";
import { CryptographicAlgorithm, ObjectType } from "../src/keystore/kmip/enums.js";
import { peerIdentities, pykmipPeer } from "../test/interop/kmip/peer.js";
import { startTestServer } from "../test/unit/kmip/server-fixture.js";

export interface KmipBenchFigure {
  client: "virsecret" | "PyKMIP";
  server: "virsecret" | "PyKMIP";
  concurrency: number;
  /** completed Create+Get pairs */
  pairs: number;
  seconds: number;
  pairsPerSec: number;
}

const AES256 = { cryptographicAlgorithm: CryptographicAlgorithm.AES, cryptographicLength: 256, cryptographicUsageMask: 12 };

async function ours(opts: () => KmipClientOptions, concurrency: number, seconds: number): Promise<{ pairs: number; seconds: number }> {
  const clients = Array.from({ length: concurrency }, () => new KmipClient({ ...opts(), poolSize: 1 }));
  // connect and negotiate outside the timed window
  await Promise.all(clients.map((c) => c.protocolVersion()));
  let pairs = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await Promise.all(
    clients.map(async (c) => {
      while (performance.now() < end) {
        const id = await c.create(ObjectType.SymmetricKey, AES256);
        await c.get(id);
        pairs++;
      }
    }),
  );
  const took = (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.close()));
  return { pairs, seconds: took };
}

// PyKMIP's client in threads, one ProxyKmipClient (connection) each
const PY = `
import sys, threading, time
from kmip import enums
from kmip.pie.client import ProxyKmipClient
host, port, ca, seconds, conc = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
creds = [sys.argv[6 + 2 * i: 8 + 2 * i] for i in range(conc)]
counts = [0] * conc
clients = [ProxyKmipClient(hostname=host, port=port, cert=c, key=k, ca=ca, ssl_version="PROTOCOL_TLSv1_2", config_file="/dev/null") for c, k in creds]
for c in clients: c.open()
start = time.monotonic(); end = start + seconds
def work(i):
    c = clients[i]
    while time.monotonic() < end:
        uid = c.create(enums.CryptographicAlgorithm.AES, 256)
        c.get(uid)
        counts[i] += 1
ts = [threading.Thread(target=work, args=(i,)) for i in range(conc)]
for t in ts: t.start()
for t in ts: t.join()
took = time.monotonic() - start
for c in clients: c.close()
print(sum(counts), took)
`;

async function pykmip(host: string, port: number, ca: string, creds: { cert: string; key: string }[], seconds: number): Promise<{ pairs: number; seconds: number }> {
  const args = ["-c", PY, host, String(port), ca, String(seconds), String(creds.length), ...creds.flatMap((c) => [c.cert, c.key])];
  const { stdout } = await promisify(execFile)("/usr/bin/python3", args, { timeout: (seconds + 60) * 1000 });
  const [pairs, took] = stdout.trim().split(/\s+/).map(Number);
  return { pairs, seconds: took };
}

export async function benchKmip(seconds = 2): Promise<KmipBenchFigure[]> {
  const out: KmipBenchFigure[] = [];
  const add = (client: KmipBenchFigure["client"], server: KmipBenchFigure["server"], concurrency: number, r: { pairs: number; seconds: number }): void => {
    out.push({ client, server, concurrency, pairs: r.pairs, seconds: Number(r.seconds.toFixed(2)), pairsPerSec: Number((r.pairs / r.seconds).toFixed(1)) });
  };
  let n = 0;
  const cn = (p: string): string => `bench-${p}-${process.pid}-${++n}`;

  const srv = await startTestServer();
  try {
    let peer: ReturnType<typeof pykmipPeer> | undefined;
    try {
      peer = pykmipPeer();
    } catch {
      peer = undefined; // no PyKMIP peer here: only our server's rows
    }
    const ids = peer ? peerIdentities() : undefined;
    try {
      for (const c of [1, 8]) {
        if (peer && ids) {
          const p = peer;
          add("virsecret", "PyKMIP", c, await ours(() => {
            const me = ids.issue(cn("o"));
            return { host: p.host, port: p.port, ca: readFileSync(p.ca), cert: readFileSync(me.cert), key: readFileSync(me.key), tlsVersion: "TLSv1.2" };
          }, c, seconds));
          add("PyKMIP", "PyKMIP", c, await pykmip(p.host, p.port, p.ca, Array.from({ length: c }, () => ids.issue(cn("p"))), seconds));
        }
        add("virsecret", "virsecret", c, await ours(() => srv.clientOptions(cn("o")), c, seconds));
        add("PyKMIP", "virsecret", c, await pykmip("127.0.0.1", srv.port, srv.ca.cert, Array.from({ length: c }, () => srv.issue(cn("p"))), seconds));
      }
    } finally {
      ids?.dispose();
    }
  } finally {
    await srv.stop();
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const figures = await benchKmip(Number(process.argv[2] ?? 2));
  console.table(figures);
}
