// Helpers for the volume driver unit tests: a fresh root + pool + secret-file
// dir per test, and a MOCK qemu-img / qemu-io (unit tests must run with Node
// alone; the real programs are exercised in test/interop/volume/).
//
// The mock writes just enough of an image for the pool's header probe (a LUKS1
// or qcow2-LUKS header) and, at byte 512, the sha256 of the passphrase it was
// given, so its "check" / "qemu-io" mode can tell a right passphrase from a
// wrong one. It never copies the passphrase itself anywhere. Behaviour is
// chosen by MOCK_QEMU_MODE: ok | fail (partial file, ENOSPC) | kill (partial
// file, then SIGKILL itself) | hang (partial file, then wait to be killed) |
// cpu:N (qemu's PBKDF failure on the first N runs) | wait (until the test
// creates the file "go" in the mock dir) | wait-MODE (wait, then MODE).
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalKeyManager } from "../../../src/keystore/local.js";
import { openSecretDriver, type SecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { openVolumeDriver, type OpenVolumeDriverOptions, type VolumeDriver } from "../../../src/storage/volume-driver.js";

export { secretXML } from "../../helpers/secret-xml.js";
export { expectVirError } from "../../helpers/vir-error.js";

const MOCK = (execPath: string): string => `#!${execPath}
// MOCK qemu-img / qemu-io for virsecret's unit tests (not the real program)
const fs = require("fs");
const crypto = require("crypto");
const path = require("path");
const argv = process.argv.slice(2);
const prog = path.basename(process.argv[1]);
let mode = process.env.MOCK_QEMU_MODE || "ok";
const dir = process.env.MOCK_QEMU_DIR;
const n = (() => { const f = path.join(dir, "count"); let c = 0; try { c = Number(fs.readFileSync(f, "utf8")); } catch {} c++; fs.writeFileSync(f, String(c)); return c; })();
const obj = argv.indexOf("--object");
const secretFile = obj >= 0 ? /(?:^|,)file=(.*)$/.exec(argv[obj + 1])[1] : undefined;
let secretMode;
if (secretFile !== undefined) secretMode = (fs.statSync(secretFile).mode & 0o777).toString(8);
fs.appendFileSync(path.join(dir, "log"), JSON.stringify({ prog, argv, secretMode }) + "\\n");
const digest = () => crypto.createHash("sha256").update(fs.readFileSync(secretFile)).digest("hex");
if (prog === "qemu-io" || argv[0] === "check") {
  const opts = argv[argv.indexOf("--image-opts") + 1];
  const file = /file\\.filename=([^,]*)/.exec(opts)[1];
  const fd = fs.openSync(file, "r"); const b = Buffer.alloc(64); fs.readSync(fd, b, 0, 64, 512); fs.closeSync(fd);
  if (b.toString("latin1") !== digest()) {
    process.stderr.write(prog === "qemu-io" ? "qemu-io: can't open: Invalid password, cannot unlock any keyslot\\n"
      : "qemu-img: Could not open '" + opts + "': Invalid password, cannot unlock any keyslot\\n");
    process.exit(1);
  }
  process.stdout.write(prog === "qemu-io" ? "read 512/512 bytes at offset 0\\n" : "No errors were found on the image.\\n");
  process.exit(0);
}
if (argv[0] !== "create") { process.stderr.write("mock: unsupported " + argv.join(" ") + "\\n"); process.exit(1); }
const target = argv[argv.length - 2];
const size = BigInt(argv[argv.length - 1].replace(/K$/, "")) * 1024n;
const type = argv[argv.indexOf("-f") + 1];
const head = Buffer.alloc(4096);
if (type === "luks") {
  Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0x00, 0x01]).copy(head, 0);
  head.writeUInt32BE(8, 104);
} else if (type === "qcow2") {
  Buffer.from([0x51, 0x46, 0x49, 0xfb]).copy(head, 0);
  head.writeUInt32BE(2, 4);
  head.writeBigUInt64BE(size, 24);
  const os = argv[argv.indexOf("-o") + 1] || "";
  head.writeUInt32BE(os.includes("encrypt.format=luks") ? 2 : 0, 32);
}
const partial = () => fs.writeFileSync(target, head.subarray(0, 100));
if (mode.startsWith("cpu:") && n <= Number(mode.slice(4))) {
  process.stderr.write("qemu-img: " + target + ": Unable to get accurate CPU usage\\n"); process.exit(1);
}
if (mode === "wait" || mode.startsWith("wait-")) {
  while (!fs.existsSync(path.join(dir, "go"))) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
  mode = mode === "wait" ? "ok" : mode.slice(5);
}
if (mode === "fail") { partial(); process.stderr.write("qemu-img: " + target + ": Could not write: No space left on device\\n"); process.exit(1); }
if (mode === "kill") { partial(); process.kill(process.pid, "SIGKILL"); }
if (mode === "hang") { partial(); fs.writeFileSync(path.join(dir, "hanging"), String(process.pid)); setInterval(() => {}, 1000); }
else {
  if (secretFile !== undefined) Buffer.from(digest(), "latin1").copy(head, 512);
  const fd = fs.openSync(target, "w", 0o644);
  fs.writeSync(fd, type === "luks" || type === "qcow2" ? head : Buffer.alloc(0));
  fs.ftruncateSync(fd, Number((type === "luks" ? 4096n : type === "qcow2" ? 4096n : 0n) + (type === "qcow2" ? 0n : size)));
  fs.closeSync(fd);
  process.stdout.write("Formatting '" + target + "', fmt=" + type + "\\n");
}
`;

export interface MockLogEntry {
  readonly prog: string;
  readonly argv: string[];
  readonly secretMode?: string;
}

/** One test's world: root (LevelDB), pool, secret-file dir, mock dir. */
export class VolEnv {
  base = "";
  root = "";
  pool = "";
  secretDir = "";
  mockDir = "";
  secrets!: SecretDriver;
  drivers: VolumeDriver[] = [];
  mode = "ok";

  static async create(): Promise<VolEnv> {
    const env = new VolEnv();
    env.base = await mkdtemp(join(tmpdir(), "virsecret-vol-unit-"));
    env.root = join(env.base, "root");
    env.pool = join(env.base, "pool");
    env.secretDir = join(env.base, "secret-files");
    env.mockDir = join(env.base, "mock");
    for (const d of [env.pool, env.secretDir, env.mockDir]) await mkdir(d, { recursive: true });
    for (const name of ["qemu-img", "qemu-io"]) {
      await writeFile(join(env.mockDir, name), MOCK(process.execPath));
      await chmod(join(env.mockDir, name), 0o755);
    }
    env.secrets = await openSecretDriver({ uri: embedURI(env.root) });
    return env;
  }

  /** Environment for the mock: found first on PATH, told its mode. */
  procEnv(mode = this.mode): NodeJS.ProcessEnv {
    return { PATH: `${this.mockDir}:/usr/bin:/bin`, MOCK_QEMU_MODE: mode, MOCK_QEMU_DIR: this.mockDir };
  }

  async open(opts: Partial<OpenVolumeDriverOptions> = {}): Promise<VolumeDriver> {
    const vd = await openVolumeDriver({
      secrets: this.secrets,
      pool: this.pool,
      env: this.procEnv(),
      secretFileDir: this.secretDir,
      iterTimeMs: 10,
      ...opts,
    });
    this.drivers.push(vd);
    return vd;
  }

  /** Close and reopen the secret driver (a restart of the app). */
  async restart(): Promise<void> {
    await this.secrets.close();
    this.secrets = await openSecretDriver({ uri: embedURI(this.root) });
  }

  local(): LocalKeyManager {
    return new LocalKeyManager(this.secrets.store);
  }

  async log(): Promise<MockLogEntry[]> {
    const t = await readFile(join(this.mockDir, "log"), "utf8").catch(() => "");
    return t.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as MockLogEntry);
  }

  async poolFiles(): Promise<string[]> {
    return (await readdir(this.pool)).sort();
  }

  async records(space: string): Promise<string[]> {
    const out: string[] = [];
    for await (const [k] of this.secrets.store.list(space, { secrets: false })) out.push(k);
    return out;
  }

  /** Everything a failed create must not leave: pool files, secrets, records, intents, secret files. */
  async state(): Promise<{ files: string[]; secrets: string[]; volumes: string[]; pending: string[]; secretFiles: string[] }> {
    return {
      files: await this.poolFiles(),
      secrets: this.secrets.listSecrets(1000),
      volumes: await this.records("volumes"),
      pending: await this.records("volume-pending"),
      secretFiles: await readdir(this.secretDir),
    };
  }

  async cleanup(): Promise<void> {
    await this.secrets.close().catch(() => undefined);
    await rm(this.base, { recursive: true, force: true });
  }
}

export function volXML(o: { name: string; format?: "raw" | "qcow2"; enc?: string | false; capacity?: string; path?: string }): string {
  const enc = o.enc === false ? "" : (o.enc ?? "<encryption format='luks'/>");
  return `<volume>
  <name>${o.name}</name>
  <capacity unit='MiB'>${o.capacity ?? "16"}</capacity>
  <target>
    ${o.path !== undefined ? `<path>${o.path}</path>` : ""}
    <format type='${o.format ?? "raw"}'/>
    ${enc}
  </target>
</volume>`;
}

/** Every regular file under `dir` (recursively) whose bytes contain `needle`. */
export async function filesContaining(dir: string, needle: Uint8Array): Promise<string[]> {
  const hits: string[] = [];
  const n = Buffer.from(needle);
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) {
        const st = await stat(p);
        if (st.size > 64 * 1024 * 1024) continue;
        const b = await readFile(p).catch(() => Buffer.alloc(0));
        if (b.indexOf(n) >= 0) hits.push(p);
      }
    }
  };
  await walk(dir);
  return hits;
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
