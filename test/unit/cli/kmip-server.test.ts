// `virsecret kmip-server --config FILE.xml`: bin/virsecret.js as a real
// process with a throwaway PKI; our KMIP backend creates and reads a key
// through it; SIGTERM and SIGINT stop it (exit 0) quickly; the key survives
// a restart. Start-up failures are checked in-process (same code, faster).
import { expect } from "chai";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CapturedIO } from "../../../src/cli/io.js";
import { main } from "../../../src/cli/main.js";
import type { KmipKeystoreConfig } from "../../../src/keystore/config.js";
import type { KeyManager } from "../../../src/keystore/key-manager.js";
import { openKmipKeystore } from "../../../src/keystore/kmip/backend.js";
import { TestCa, type Issued } from "../kmip/pki.js";
import { runCli, scratch } from "./run.js";

const BIN = fileURLToPath(new URL("../../../bin/virsecret.js", import.meta.url));
const LISTENING = /^KMIP server listening on 127\.0\.0\.1:(\d+)\n/;
const CTX = { project: "cli-test" };
/** every process spawned, killed after each test in case an assertion left one behind */
const children: ChildProcess[] = [];

interface Running {
  readonly proc: ChildProcess;
  readonly port: number;
  readonly out: () => string;
  readonly err: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn `virsecret kmip-server …` and wait for its listening line. */
async function startServerProcess(args: string[], cwd?: string): Promise<Running> {
  const proc = spawn(BIN, ["kmip-server", ...args], { stdio: ["ignore", "pipe", "pipe"], cwd });
  children.push(proc);
  let out = "";
  let err = "";
  proc.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")));
  proc.stderr!.on("data", (d: Buffer) => (err += d.toString("utf8")));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once("exit", (code, signal) => r({ code, signal })));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within 30 s; stderr: ${err}`)), 30_000);
    const check = (): void => {
      const m = LISTENING.exec(out);
      if (m) {
        clearTimeout(timer);
        proc.stdout!.off("data", check);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on("data", check);
    void exited.then((x) => {
      clearTimeout(timer);
      reject(new Error(`kmip-server exited (${x.code ?? x.signal}) before listening; stderr: ${err}`));
    });
  });
  return { proc, port, out: () => out, err: () => err, exited };
}

/** Send `sig` and return the exit status and how long the process took to go. */
async function stopWith(r: Running, sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }> {
  const t0 = performance.now();
  r.proc.kill(sig);
  const x = await r.exited;
  return { ...x, ms: performance.now() - t0 };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const a = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  if (!a || typeof a !== "object") throw new Error("no address");
  return a.port;
}

describe("cli: kmip-server", function () {
  this.timeout(60_000);
  let dir: string;
  let cleanup: () => void;
  let ca: TestCa;
  let server: Issued;
  let client: Issued;
  const managers: KeyManager[] = [];

  /** A config in `sub` whose paths are all relative to it (PKI one level up). */
  function writeConfig(sub: string, extra = ""): string {
    const d = join(dir, sub);
    mkdirSync(d, { recursive: true });
    const file = join(d, "kmip-server.xml");
    writeFileSync(
      file,
      `<kmip-server>
  <listen host='127.0.0.1' port='0'/>
  <tls min-version='1.2'>
    <ca>../pki/ca.crt</ca>
    <cert>../pki/${server.cert.split("/").pop()}</cert>
    <key>../pki/${server.key.split("/").pop()}</key>
  </tls>
  <data dir='db'/>
  <seal-key file='seal.key'/>
  ${extra}
</kmip-server>
`,
    );
    return file;
  }

  async function backend(port: number): Promise<KeyManager> {
    const cfg: KmipKeystoreConfig = {
      type: "kmip",
      host: "127.0.0.1",
      port,
      tls: { ca: ca.cert, cert: client.cert, key: client.key },
      poolSize: 2,
      timeoutMs: 10_000,
    };
    const km = await openKmipKeystore(cfg);
    managers.push(km);
    return km;
  }

  before(function () {
    ({ dir, cleanup } = scratch("virsecret-kmip-server-"));
    ca = TestCa.create(join(dir, "pki"));
    server = ca.issue("localhost", { eku: "serverAuth" });
    client = ca.issue("cli-tenant");
  });
  afterEach(async function () {
    for (const km of managers.splice(0)) await km.close();
    for (const p of children.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  });
  after(() => cleanup());

  it("serves KMIP; SIGTERM stops it (exit 0, under 2 s) with a client still connected; the key survives a restart on --port", async function () {
    const config = writeConfig("main");
    const first = await startServerProcess(["--config", config]);
    const km = await backend(first.port);
    const id = await km.createKey(CTX, { algorithm: "AES", length: 256, name: "cli-key" });
    const got = await km.getKey(CTX, id);
    expect(got).to.include({ id, kind: "symmetric", algorithm: "AES", bitLength: 256, name: "cli-key" });
    expect(got.value).to.have.length(32);

    // the pooled TLS connection is still open: close must not wait for it
    const stop = await stopWith(first, "SIGTERM");
    expect(stop.signal, "ended by its own exit, not killed by the signal").to.equal(null);
    expect(stop.code).to.equal(0);
    expect(stop.ms).to.be.below(2000);
    expect(first.out()).to.equal(`KMIP server listening on 127.0.0.1:${first.port}\nKMIP server stopped (SIGTERM)\n\n`);
    expect(first.err()).to.equal("");

    // the same data on a port chosen by --port (the config says 0), the config
    // named relative to another working directory
    const want = await freePort();
    const second = await startServerProcess(["main/kmip-server.xml", "--port", String(want)], dir);
    expect(second.port).to.equal(want);
    const km2 = await backend(second.port);
    const again = await km2.getKey(CTX, id);
    expect(Buffer.from(again.value!).equals(Buffer.from(got.value!)), "same key material after restart").to.equal(true);
    expect(again.name).to.equal("cli-key");
    const stop2 = await stopWith(second, "SIGINT");
    expect(stop2).to.include({ code: 0, signal: null });
    expect(stop2.ms).to.be.below(2000);
    expect(second.out()).to.equal(`KMIP server listening on 127.0.0.1:${want}\nKMIP server stopped (SIGINT)\n\n`);
  });

  it("-q keeps the listening line (it carries the port) and drops the rest", async function () {
    const r = await startServerProcess(["--config", writeConfig("quiet")]);
    r.proc.kill("SIGTERM");
    await r.exited;
    expect(r.out()).to.match(/\nKMIP server stopped \(SIGTERM\)\n\n$/);

    const q = spawn(BIN, ["-q", "kmip-server", writeConfig("quiet2")], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(q);
    let out = "";
    q.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (LISTENING.test(out)) q.kill("SIGTERM");
    });
    const code = await new Promise<number | null>((res) => q.once("exit", (c) => res(c)));
    expect(code).to.equal(0);
    expect(out).to.match(/^KMIP server listening on 127\.0\.0\.1:\d+\n$/);
  });

  it("in-process: the CLI interrupt stops it and main() returns 0", async function () {
    const ac = new AbortController();
    const io = new CapturedIO({ interrupt: ac.signal });
    const done = main(["kmip-server", "--config", writeConfig("inproc")], io);
    const deadline = Date.now() + 20_000;
    while (!LISTENING.test(io.stdoutText)) {
      if (Date.now() > deadline) throw new Error(`not listening; stderr: ${io.stderrText}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const port = Number(LISTENING.exec(io.stdoutText)![1]);
    const km = await backend(port);
    const id = await km.createKey(CTX);
    expect((await km.getKey(CTX, id)).value).to.have.length(32);
    ac.abort();
    expect(await done).to.equal(0);
    expect(io.stdoutText).to.equal(`KMIP server listening on 127.0.0.1:${port}\nKMIP server stopped (SIGINT)\n\n`);
    expect(io.stderrText).to.equal("");
    // really closed: a new connection is refused
    const after = await backend(port);
    const refused = await after.getKey(CTX, id).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused, "no server after close").to.be.instanceOf(Error);
  });

  describe("start-up failures: exit 1, one clear reason", function () {
    it("a missing configuration file", async function () {
      const r = await runCli(["kmip-server", "--config", join(dir, "nope.xml")]);
      expect(r.code).to.equal(1);
      expect(r.err).to.equal(`error: Failed to open file '${join(dir, "nope.xml")}': No such file or directory\n`);
    });

    it("no --config at all", async function () {
      const r = await runCli(["kmip-server"]);
      expect(r.code).to.equal(1);
      expect(r.err).to.equal("error: command 'kmip-server' requires <config> option\n");
    });

    it("a bad configuration names the fault", async function () {
      const f = join(dir, "bad.xml");
      writeFileSync(f, "<kmip-server><data dir='/d'/><seal-key file='/k'/></kmip-server>");
      const r = await runCli(["kmip-server", f]);
      expect(r.code).to.equal(1);
      expect(r.err).to.equal("error: XML error: missing <tls> in <kmip-server>: the KMIP server runs over mutual TLS\n");
    });

    it("malformed XML does not echo the document", async function () {
      const f = join(dir, "malformed.xml");
      writeFileSync(f, "<kmip-server><tls><key>hunter2-looking-text</tls></kmip-server>");
      const r = await runCli(["kmip-server", f]);
      expect(r.code).to.equal(1);
      expect(r.err).to.match(new RegExp(`^error: ${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:1: `));
      expect(r.err).to.not.contain("hunter2");
    });

    for (const bad of ["x", "-1", "65536", "5696.0", ""]) {
      it(`--port '${bad}' is refused`, async function () {
        const r = await runCli(["kmip-server", writeConfig("port"), `--port=${bad}`]);
        expect(r.code).to.equal(1);
        expect(r.err).to.equal(`error: Numeric value '${bad}' for <port> option is malformed or out of range\n`);
      });
    }

    it("a missing certificate file names the file", async function () {
      const f = join(dir, "nocert", "kmip-server.xml");
      mkdirSync(join(dir, "nocert"), { recursive: true });
      writeFileSync(f, `<kmip-server><tls><ca>${ca.cert}</ca><cert>missing.crt</cert><key>${server.key}</key></tls><data dir='db'/><seal-key file='seal.key'/></kmip-server>`);
      const r = await runCli(["kmip-server", f]);
      expect(r.code).to.equal(1);
      expect(r.err).to.equal(`error: failed to start the KMIP server\nerror: cannot read '${join(dir, "nocert", "missing.crt")}': No such file or directory\n`);
    });

    it("an unusable key file: clear error, no key bytes in it", async function () {
      const d = join(dir, "badkey");
      mkdirSync(d, { recursive: true });
      const marker = "c2VjcmV0LWtleS1ieXRlcy1kby1ub3QtbGVhaw";
      writeFileSync(join(d, "bad.key"), `-----BEGIN PRIVATE KEY-----\n${marker}\n-----END PRIVATE KEY-----\n`);
      const f = join(d, "kmip-server.xml");
      writeFileSync(f, `<kmip-server><listen port='0'/><tls><ca>${ca.cert}</ca><cert>${server.cert}</cert><key>bad.key</key></tls><data dir='db'/><seal-key file='seal.key'/></kmip-server>`);
      const r = await runCli(["kmip-server", f]);
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/^error: failed to start the KMIP server\nerror: the TLS certificate, key or CA is not usable: .+\n$/);
      expect(r.err).to.not.contain(marker);
    });

    it("a port in use names the address", async function () {
      const busy = createServer();
      await new Promise<void>((r) => busy.listen(0, "127.0.0.1", r));
      const port = (busy.address() as { port: number }).port;
      try {
        const r = await runCli(["kmip-server", writeConfig("busy"), "--port", String(port)]);
        expect(r.code).to.equal(1);
        expect(r.err).to.equal(`error: failed to start the KMIP server\nerror: cannot listen on 127.0.0.1:${port}: Address already in use\n`);
      } finally {
        await new Promise<void>((r) => busy.close(() => r()));
      }
    });
  });

  it("is listed by `help server` and documented by `help kmip-server`", async function () {
    const g = await runCli(["help", "server"]);
    expect(g.out).to.match(/^ Key-manager server \(help keyword 'server'\):\n {4}kmip-server {20}run the KMIP key-manager server\n/);
    const h = await runCli(["help", "kmip-server"]);
    expect(h.out).to.contain("SYNOPSIS\n    kmip-server <config> [--port <number>]\n");
  });
});
