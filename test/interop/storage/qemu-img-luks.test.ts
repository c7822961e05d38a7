// Raw-LUKS and qcow2-LUKS volumes created by our argv builder, secret file
// and runner with the REAL qemu-img, then opened by the real tools:
// qemu-img info / check, qemu-io, cryptsetup. A wrong passphrase must fail.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { DirPool } from "../../../src/storage/pool.js";
import { buildCreateArgv, runQemuImg } from "../../../src/storage/qemu-img.js";
import { withSecretFile } from "../../../src/storage/secret-file.js";
import type { VolumeDef } from "../../../src/storage/volume-def.js";
import { parseVolumeXML } from "../../../src/xml/volume.js";

const run = promisify(execFile);

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function tool(cmd: string, args: string[]): Promise<Outcome> {
  try {
    const r = await run(cmd, args, { env: { ...process.env, LC_ALL: "C" } });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === "number" ? x.code : -1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}

const UUID = "f52a81b2-424e-490c-823d-6bd4235bc572";
const MiB = 1024 * 1024;

describe("interop/storage: qemu-img LUKS volumes opened by qemu-img, qemu-io and cryptsetup", function () {
  let pool: string;
  let keyFile: string; // the right passphrase, for the checking tools
  let wrongKeyFile: string;
  // a generated passphrase with bytes a shell or newline handling would mangle
  const passphrase = Buffer.concat([randomBytes(32).toString("base64url").slice(0, 40), "\n tail"].map((s) => Buffer.from(s)));

  before(async () => {
    pool = await mkdtemp(join(tmpdir(), "virsecret-interop-pool-"));
    keyFile = join(pool, "check.key");
    wrongKeyFile = join(pool, "wrong.key");
    await writeFile(keyFile, passphrase, { mode: 0o600 });
    await writeFile(wrongKeyFile, Buffer.from("not the passphrase"), { mode: 0o600 });
  });
  after(async () => {
    await rm(pool, { recursive: true, force: true });
  });

  function volume(name: string, format: "raw" | "qcow2"): VolumeDef {
    return parseVolumeXML(`<volume>
  <name>${name}</name>
  <capacity unit='MiB'>16</capacity>
  <target>
    <path>${join(pool, name)}</path>
    <format type='${format}'/>
    <encryption format='luks'>
      <secret type='passphrase' uuid='${UUID}'/>
    </encryption>
  </target>
</volume>`);
  }

  async function create(vol: VolumeDef): Promise<void> {
    let secretPath = "";
    await withSecretFile(passphrase, async (path) => {
      secretPath = path;
      const argv = buildCreateArgv(vol, { secretPath: path, iterTimeMs: 10 });
      expect(argv.join(" ")).to.not.contain(passphrase.toString("latin1").slice(0, 20));
      await runQemuImg(argv, { timeoutMs: 60_000 });
    }, { name: `pool.${vol.name}` });
    expect(existsSync(secretPath), "secret temp file left behind").to.equal(false);
  }

  /** --image-opts for the volume with the secret object s0 read from `key`. */
  function imageOpts(vol: VolumeDef, key: string): string[] {
    const opts = vol.target.format === "qcow2"
      ? `driver=qcow2,file.filename=${vol.target.path},encrypt.key-secret=s0`
      : `driver=luks,file.filename=${vol.target.path},key-secret=s0`;
    return ["--object", `secret,id=s0,file=${key}`, "--image-opts", opts];
  }

  async function writeThenRead(vol: VolumeDef): Promise<void> {
    const [obj, objVal, io, opts] = imageOpts(vol, keyFile);
    const w = await tool("qemu-io", [obj!, objVal!, io!, opts!, "-c", "write -P 0xab 0 64k", "-c", `write -P 0x5c ${15 * MiB} 1M`]);
    expect(w.code, w.stderr + w.stdout).to.equal(0);
    const r = await tool("qemu-io", [obj!, objVal!, io!, opts!, "-c", "read -P 0xab 0 64k", "-c", `read -P 0x5c ${15 * MiB} 1M`]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.not.contain("Pattern verification failed");
    // decrypt the whole volume with qemu-img and compare every byte
    const plain = join(pool, `${vol.name}.plain`);
    const c = await tool("qemu-img", ["convert", obj!, objVal!, io!, opts!, "-O", "raw", plain]);
    expect(c.code, c.stderr).to.equal(0);
    const bytes = await readFile(plain);
    expect(bytes.length).to.equal(16 * MiB);
    expect(Buffer.compare(bytes.subarray(0, 64 * 1024), Buffer.alloc(64 * 1024, 0xab))).to.equal(0);
    expect(Buffer.compare(bytes.subarray(15 * MiB), Buffer.alloc(MiB, 0x5c))).to.equal(0);
    // qcow2 reads unallocated clusters as zeros; raw LUKS decrypts whatever is on disk
    if (vol.target.format === "qcow2") {
      expect(Buffer.compare(bytes.subarray(64 * 1024, 15 * MiB), Buffer.alloc(15 * MiB - 64 * 1024))).to.equal(0);
    }
    // and the file on disk does not hold the plaintext
    const onDisk = await readFile(vol.target.path!);
    expect(onDisk.includes(Buffer.alloc(4096, 0xab))).to.equal(false);
  }

  describe("raw LUKS", () => {
    let vol: VolumeDef;
    before(async () => {
      vol = volume("luks1.img", "raw");
      await create(vol);
    });

    it("qemu-img info shows a luks image, encrypted", async () => {
      const r = await tool("qemu-img", ["info", "--output=json", vol.target.path!]);
      expect(r.code, r.stderr).to.equal(0);
      const info = JSON.parse(r.stdout) as { format: string; encrypted: boolean; "virtual-size": number; "format-specific": { type: string } };
      expect(info.format).to.equal("luks");
      expect(info.encrypted).to.equal(true);
      expect(info["virtual-size"]).to.equal(16 * MiB);
      expect(info["format-specific"].type).to.equal("luks");
    });

    it("qemu-io writes then reads back the same bytes (and qemu-img convert decrypts them)", async () => {
      await writeThenRead(vol);
    });

    it("the pool probe sees a raw LUKS volume of the right size with a secret-less encryption", async () => {
      const def = await new DirPool(pool).probe(vol.name);
      expect(def.target.format).to.equal("raw");
      expect(def.capacity).to.equal(16n * BigInt(MiB));
      expect(def.target.encryption).to.deep.equal({ format: "luks", engine: "default", secrets: [] });
    });

    it("cryptsetup luksDump reads a LUKS1 header with qemu's defaults", async () => {
      const r = await tool("cryptsetup", ["luksDump", vol.target.path!]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/Version:\s+1\n/);
      expect(r.stdout).to.match(/Cipher name:\s+aes\n/);
      expect(r.stdout).to.match(/Cipher mode:\s+xts-plain64\n/);
      expect(r.stdout).to.match(/Key Slot 0: ENABLED/);
    });

    it("cryptsetup open --test-passphrase accepts the passphrase file, refuses a wrong one", async () => {
      const ok = await tool("cryptsetup", ["open", "--test-passphrase", "--key-file", keyFile, vol.target.path!]);
      expect(ok.code, ok.stderr).to.equal(0);
      const bad = await tool("cryptsetup", ["open", "--test-passphrase", "--key-file", wrongKeyFile, vol.target.path!]);
      expect(bad.code).to.equal(2);
      expect(bad.stderr).to.contain("No key available with this passphrase");
    });

    it("qemu-io with a wrong passphrase cannot open it", async () => {
      const [obj, objVal, io, opts] = imageOpts(vol, wrongKeyFile);
      const r = await tool("qemu-io", [obj!, objVal!, io!, opts!, "-c", "read 0 4k"]);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain("Invalid password, cannot unlock any keyslot");
    });

    it("a cipher from the XML reaches the header", async () => {
      const v = parseVolumeXML(`<volume><name>luks-cbc.img</name><capacity unit='MiB'>4</capacity>
        <target><path>${join(pool, "luks-cbc.img")}</path><format type='raw'/>
        <encryption format='luks'><secret type='passphrase' usage='${join(pool, "luks-cbc.img")}'/>
          <cipher name='aes' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/></encryption>
        </target></volume>`);
      await create(v);
      const r = await tool("cryptsetup", ["luksDump", v.target.path!]);
      expect(r.stdout).to.match(/Cipher mode:\s+cbc-essiv:sha256\n/);
      expect(r.stdout).to.match(/MK bits:\s+256\n/);
      const ok = await tool("cryptsetup", ["open", "--test-passphrase", "--key-file", keyFile, v.target.path!]);
      expect(ok.code, ok.stderr).to.equal(0);
    });
  });

  describe("qcow2 LUKS", () => {
    let vol: VolumeDef;
    before(async () => {
      vol = volume("q1.qcow2", "qcow2");
      await create(vol);
    });

    it("qemu-img info shows qcow2 with luks encryption", async () => {
      const r = await tool("qemu-img", ["info", "--output=json", vol.target.path!]);
      expect(r.code, r.stderr).to.equal(0);
      const info = JSON.parse(r.stdout) as {
        format: string;
        encrypted: boolean;
        "format-specific": { type: string; data: { compat: string; encrypt?: { format: string } } };
      };
      expect(info.format).to.equal("qcow2");
      expect(info.encrypted).to.equal(true);
      expect(info["format-specific"].data.encrypt?.format).to.equal("luks");
      expect(info["format-specific"].data.compat).to.equal("0.10");
    });

    it("the pool probe sees qcow2 0.10 with luks encryption", async () => {
      const def = await new DirPool(pool).probe(vol.name);
      expect(def.target.format).to.equal("qcow2");
      expect(def.target.compat).to.equal("0.10");
      expect(def.capacity).to.equal(16n * BigInt(MiB));
      expect(def.target.encryption).to.deep.equal({ format: "luks", engine: "default", secrets: [] });
    });

    it("qemu-img check passes with the secret", async () => {
      const r = await tool("qemu-img", ["check", ...imageOpts(vol, keyFile)]);
      expect(r.code, r.stderr + r.stdout).to.equal(0);
      expect(r.stdout).to.contain("No errors were found on the image.");
    });

    it("qemu-img check with a wrong passphrase fails", async () => {
      const r = await tool("qemu-img", ["check", ...imageOpts(vol, wrongKeyFile)]);
      expect(r.code).to.not.equal(0);
      expect(r.stderr).to.contain("Invalid password, cannot unlock any keyslot");
    });

    it("qemu-io writes then reads back the same bytes (and qemu-img convert decrypts them)", async () => {
      await writeThenRead(vol);
      const r = await tool("qemu-img", ["check", ...imageOpts(vol, keyFile)]);
      expect(r.code, r.stderr + r.stdout).to.equal(0);
    });
  });

  it("a refused create leaves no file and no secret file", async () => {
    const v = volume("bad.qcow2", "qcow2");
    const enc = { ...v.target.encryption!, format: "qcow" as const };
    const bad: VolumeDef = { ...v, target: { ...v.target, encryption: enc } };
    let secretPath = "";
    let threw = false;
    try {
      await withSecretFile(passphrase, async (path) => {
        secretPath = path;
        await runQemuImg(buildCreateArgv(bad, { secretPath: path, iterTimeMs: 10 }));
      });
    } catch (e) {
      threw = true;
      expect((e as Error).message).to.equal("unsupported configuration: creation of qcow2 encrypted image is not supported");
    }
    expect(threw).to.equal(true);
    expect(existsSync(secretPath)).to.equal(false);
    expect(existsSync(bad.target.path!)).to.equal(false);
  });

  it("qemu-img's own failure (existing directory as target) is reported with its stderr", async () => {
    const v = parseVolumeXML(`<volume><name>d</name><capacity>1048576</capacity><target><path>${pool}</path><format type='raw'/>
      <encryption format='luks'><secret type='passphrase' uuid='${UUID}'/></encryption></target></volume>`);
    let message = "";
    await withSecretFile(passphrase, async (path) => {
      try {
        await runQemuImg(buildCreateArgv(v, { secretPath: path, iterTimeMs: 10 }));
      } catch (e) {
        message = (e as Error).message;
      }
    });
    expect(message).to.match(/^internal error: Child process \(qemu-img create -f luks .*\) unexpected exit status 1: qemu-img: /);
    expect(message).to.not.contain(passphrase.toString("latin1").slice(0, 20));
  });
});
