// The native LUKS backend judged by the real tools, both ways:
//  - volumes the native backend made are opened by cryptsetup (luksDump,
//    open --test-passphrase), qemu-img check and qemu-io (write, read back);
//  - volumes real qemu-img and cryptsetup made are unlocked and read by the
//    native reader (qemu-io wrote the data), and data the native writer puts
//    into them is read back by qemu-io;
//  - a wrong passphrase fails everywhere;
//  - the volume driver with backend 'native': create, keyCheck, delete.
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { VirError } from "../../../src/errors.js";
import { openSecretDriver, type SecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { isWrongPassphrase } from "../../../src/storage/luks/luks1.js";
import { createNativeVolume, openNativeVolume } from "../../../src/storage/luks/native-backend.js";
import { buildCreateArgv, runQemuImg } from "../../../src/storage/qemu-img.js";
import { withSecretFile } from "../../../src/storage/secret-file.js";
import type { VolumeDef } from "../../../src/storage/volume-def.js";
import { openVolumeDriver } from "../../../src/storage/volume-driver.js";
import { parseVolumeXML } from "../../../src/xml/volume.js";
import { expectCryptsetupAccepts, expectEncrypted, expectWriteRead, imageOpts, keyFile, opens, tool } from "../volume/tools.js";

const UUID = "f52a81b2-424e-490c-823d-6bd4235bc572";
const WRONG = "Invalid password, cannot unlock any keyslot";
const KiB = 1024;
const MiB = 1024 * KiB;

describe("interop/luks: the native backend against qemu-img, qemu-io and cryptsetup", function () {
  this.timeout(120_000);
  let dir: string;
  let key: string;
  let wrongKey: string;
  // bytes a shell, a newline or a C string would mangle
  const pass = Buffer.concat([Buffer.from(randomBytes(24).toString("base64url")), Buffer.from("\n tail \x01")]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "virsecret-luks-interop-"));
    key = await keyFile(join(dir, "right.key"), pass);
    wrongKey = await keyFile(join(dir, "wrong.key"), "not the passphrase");
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function vol(name: string, format: "raw" | "qcow2", opts: { cipher?: string; target?: string; capacity?: number } = {}): VolumeDef {
    return parseVolumeXML(`<volume><name>${name}</name><capacity unit='MiB'>${opts.capacity ?? 16}</capacity>
      <target><path>${join(dir, name)}</path><format type='${format}'/>${opts.target ?? ""}
      <encryption format='luks'><secret type='passphrase' uuid='${UUID}'/>${opts.cipher ?? ""}</encryption></target></volume>`);
  }

  async function qemuImgCreate(v: VolumeDef): Promise<void> {
    await withSecretFile(pass, async (secretPath) => {
      await runQemuImg(buildCreateArgv(v, { secretPath, iterTimeMs: 10 }), { timeoutMs: 60_000 });
    });
  }

  async function qemuIo(format: "raw" | "qcow2", path: string, cmds: string[], k = key): Promise<string> {
    const r = await tool("qemu-io", [...imageOpts(format, path, k), ...cmds.flatMap((c) => ["-c", c])]);
    expect(r.code, r.stderr + r.stdout).to.equal(0);
    expect(r.stdout).to.not.contain("Pattern verification failed");
    expect(r.stderr).to.equal("");
    return r.stdout;
  }

  const pattern = (byte: number, n: number): Buffer => Buffer.alloc(n, byte);

  describe("made by the native backend", () => {
    it("raw LUKS: cryptsetup luksDump shows our header; the passphrase opens it, a wrong one does not", async () => {
      await createNativeVolume(vol("n1.img", "raw"), pass, { iterTimeMs: 10 });
      const path = join(dir, "n1.img");
      await expectCryptsetupAccepts(path, key, wrongKey);
      const dump = (await tool("cryptsetup", ["luksDump", path])).stdout;
      expect(dump).to.match(/Cipher name:\s+aes\n/);
      expect(dump).to.match(/Cipher mode:\s+xts-plain64\n/);
      expect(dump).to.match(/Hash spec:\s+sha256\n/);
      expect(dump).to.match(/Payload offset:\s+4096\n/);
      expect(dump).to.match(/MK bits:\s+512\n/);
      expect(dump).to.match(/Key Slot 1: DISABLED/);
      await expectEncrypted("raw", path);
      const info = JSON.parse((await tool("qemu-img", ["info", "--output=json", ...imageOpts("raw", path, key)])).stdout) as { "virtual-size": number };
      expect(info["virtual-size"]).to.equal(16 * MiB);
    });

    it("raw LUKS: qemu-io writes and reads back; the native reader reads what qemu-io wrote and qemu-io reads what we wrote", async () => {
      const path = join(dir, "n1.img");
      await expectWriteRead("raw", path, key);
      const v = await openNativeVolume(path, pass);
      expect((await v.read(0, 64 * KiB)).equals(pattern(0x6b, 64 * KiB))).to.equal(true);
      expect((await v.read(MiB, 4 * KiB)).equals(pattern(0x3c, 4 * KiB))).to.equal(true);
      await v.write(2 * MiB, pattern(0xa5, 300 * KiB));
      await v.write(2 * MiB + 1000, pattern(0x5a, 10)); // an unaligned patch inside
      await v.write(16 * MiB - 512, pattern(0x77, 512)); // the last sector
      await v.close();
      await qemuIo("raw", path, [
        "read -P 0xa5 2M 1000", "read -P 0x5a 2098152 10", "read -P 0xa5 2098162 306190",
        "read -P 0x77 16776704 512", "read -P 0x6b 0 64k",
      ]);
    });

    for (const [name, target, label] of [
      ["n2.qcow2", "", "qcow2 v2 (compat 0.10, libvirt's default)"],
      ["n3.qcow2", "<compat>1.1</compat>", "qcow2 v3"],
      ["n4.qcow2", "<compat>1.1</compat><clusterSize unit='B'>512</clusterSize>", "qcow2 v3, 512-byte clusters"],
    ] as const) {
      it(`${label}: qemu-img check is clean before and after writes by qemu-io and by us, and each reads the other's data`, async () => {
        await createNativeVolume(vol(name, "qcow2", { target }), pass, { iterTimeMs: 10 });
        const path = join(dir, name);
        await expectEncrypted("qcow2", path);
        const check = async (): Promise<void> => {
          const c = await tool("qemu-img", ["check", ...imageOpts("qcow2", path, key)]);
          expect(c.code, c.stderr + c.stdout).to.equal(0);
          expect(c.stdout).to.contain("No errors were found on the image.");
          expect(c.stdout).to.not.match(/leaked/);
        };
        await check();
        await expectWriteRead("qcow2", path, key);
        await check();
        const v = await openNativeVolume(path, pass);
        expect((await v.read(0, 64 * KiB)).equals(pattern(0x6b, 64 * KiB))).to.equal(true);
        expect((await v.read(MiB, 4 * KiB)).equals(pattern(0x3c, 4 * KiB))).to.equal(true);
        expect((await v.read(3 * MiB, 4 * KiB)).equals(pattern(0, 4 * KiB))).to.equal(true);
        // into clusters qemu allocated, into new ones, and across both
        await v.write(1000, pattern(0x21, 100));
        await v.write(5 * MiB + 3, pattern(0x42, 200 * KiB));
        await v.write(MiB + 4 * KiB - 10, pattern(0x43, 70 * KiB));
        await v.close();
        await check();
        await qemuIo("qcow2", path, [
          "read -P 0x6b 0 1000", "read -P 0x21 1000 100", "read -P 0x6b 1100 64436",
          "read -P 0x3c 1M 4086", "read -P 0x43 1052662 71680", "read -P 0 1124342 10",
          "read -P 0 5M 3", "read -P 0x42 5242883 204800", "read -P 0 5447683 10",
        ]);
      });
    }

    it("a wrong passphrase fails in qemu-img, qemu-io and cryptsetup", async () => {
      const raw = join(dir, "n1.img");
      const q = join(dir, "n2.qcow2");
      for (const [format, path] of [["raw", raw], ["qcow2", q]] as const) {
        const r = await opens(format, path, wrongKey);
        expect(r.code).to.not.equal(0);
        expect(r.stderr).to.contain(WRONG);
        expect((await opens(format, path, key)).code).to.equal(0);
      }
      const cs = await tool("cryptsetup", ["open", "--test-passphrase", "--key-file", wrongKey, raw]);
      expect(cs.code).to.equal(2);
    });

    it("aes-256-cbc-essiv:sha256 raw volume from the XML's cipher opens in cryptsetup and qemu-io", async () => {
      const v = vol("n5.img", "raw", { cipher: "<cipher name='aes' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/>" });
      await createNativeVolume(v, pass, { iterTimeMs: 10 });
      const path = join(dir, "n5.img");
      await expectCryptsetupAccepts(path, key, wrongKey);
      expect((await tool("cryptsetup", ["luksDump", path])).stdout).to.match(/Cipher mode:\s+cbc-essiv:sha256\n/);
      const nv = await openNativeVolume(path, pass);
      await nv.write(4096 + 17, pattern(0xc3, 5000));
      await nv.close();
      await qemuIo("raw", path, ["read -P 0xc3 4113 5000"]);
    });
  });

  describe("made by the real tools, read by the native reader", () => {
    for (const [name, format, cipher, label] of [
      ["q1.img", "raw", "", "qemu-img raw LUKS (aes-256-xts-plain64)"],
      ["q2.img", "raw", "<cipher name='aes' size='256' mode='cbc' hash='sha256'/><ivgen name='essiv' hash='sha256'/>", "qemu-img raw LUKS aes-256-cbc-essiv:sha256"],
      ["q3.qcow2", "qcow2", "", "qemu-img qcow2 LUKS"],
    ] as const) {
      it(`${label}: data qemu-io wrote reads back natively; our writes read back in qemu-io`, async () => {
        const v = vol(name, format, { cipher });
        await qemuImgCreate(v);
        const path = join(dir, name);
        await qemuIo(format, path, ["write -P 0x6b 0 64k", "write -P 0x3c 1M 4k", "write -P 0x99 7340032 1M"]);
        const nv = await openNativeVolume(path, pass);
        expect(nv.capacity).to.equal(BigInt(16 * MiB));
        expect(nv.cipher).to.equal(cipher === "" ? "aes-xts-plain64" : "aes-cbc-essiv:sha256");
        expect((await nv.read(0, 64 * KiB)).equals(pattern(0x6b, 64 * KiB))).to.equal(true);
        expect((await nv.read(MiB, 4 * KiB)).equals(pattern(0x3c, 4 * KiB))).to.equal(true);
        expect((await nv.read(7 * MiB, MiB)).equals(pattern(0x99, MiB))).to.equal(true);
        if (format === "qcow2") expect((await nv.read(8 * MiB, 4 * KiB)).equals(pattern(0, 4 * KiB))).to.equal(true);
        // a pattern that is not there is not found: the comparison above can fail
        expect((await nv.read(0, 16)).equals(pattern(0x11, 16))).to.equal(false);
        await nv.write(300, pattern(0xd4, 20));
        await nv.write(12 * MiB + 5, pattern(0xe7, 70 * KiB));
        await nv.close();
        await qemuIo(format, path, ["read -P 0x6b 0 300", "read -P 0xd4 300 20", "read -P 0x6b 320 65216", "read -P 0xe7 12582917 71680"]);
        if (format === "qcow2") {
          const c = await tool("qemu-img", ["check", ...imageOpts("qcow2", path, key)]);
          expect(c.code, c.stdout + c.stderr).to.equal(0);
          expect(c.stdout).to.contain("No errors were found on the image.");
        }
        const e = await openNativeVolume(path, Buffer.from("not the passphrase")).then(() => undefined, (x: unknown) => x);
        expect(e).to.be.instanceOf(VirError);
        expect(isWrongPassphrase(e)).to.equal(true);
      });
    }

    it("cryptsetup luksFormat --type luks1, a second passphrase in slot 3: both unlock natively, data via the payload offset 4096", async () => {
      const path = join(dir, "c1.img");
      const mk = await tool("dd", ["if=/dev/zero", `of=${path}`, "bs=1M", "count=0", "seek=6"]);
      expect(mk.code, mk.stderr).to.equal(0);
      const f = await tool("cryptsetup", ["luksFormat", "--type", "luks1", "--batch-mode", "--pbkdf-force-iterations", "1000", "--key-file", key, path]);
      expect(f.code, f.stderr).to.equal(0);
      const other = await keyFile(join(dir, "other.key"), "second passphrase");
      const add = await tool("cryptsetup", ["luksAddKey", "--key-slot", "3", "--pbkdf-force-iterations", "1000", "--key-file", key, path, other]);
      expect(add.code, add.stderr).to.equal(0);
      await qemuIo("raw", path, ["write -P 0x5e 0 8k"]);
      const a = await openNativeVolume(path, pass, { readOnly: true });
      expect(a.keySlot).to.equal(0);
      expect((await a.read(0, 8 * KiB)).equals(pattern(0x5e, 8 * KiB))).to.equal(true);
      await a.close();
      const b = await openNativeVolume(path, Buffer.from("second passphrase"), { readOnly: true });
      expect(b.keySlot).to.equal(3);
      expect(b.capacity).to.equal(BigInt(6 * MiB - 4096 * 512));
      expect((await b.read(0, 8 * KiB)).equals(pattern(0x5e, 8 * KiB))).to.equal(true);
      await b.close();
    });
  });

  describe("the volume driver with backend 'native'", () => {
    let secrets: SecretDriver;
    let pool: string;
    before(async () => {
      pool = join(dir, "pool");
      await mkdir(pool);
      secrets = await openSecretDriver({ uri: embedURI(join(dir, "root")) });
    });
    after(async () => {
      await secrets.close();
    });

    it("create (generated secret) + keyCheck + delete; the real tools open the volume with the secret's value", async () => {
      const vd = await openVolumeDriver({ secrets, pool, backend: "native", iterTimeMs: 10 });
      for (const [name, format] of [["d1.img", "raw"], ["d2.qcow2", "qcow2"]] as const) {
        await vd.createXML(`<volume><name>${name}</name><capacity unit='MiB'>8</capacity><target><format type='${format}'/><encryption format='luks'/></target></volume>`, { generateSecret: "persistent" });
        const path = join(pool, name);
        const rec = (await vd.record(name))!;
        const value = await secrets.lookupByUUID(rec.secretUuid!).getValue();
        const k = await keyFile(join(dir, `${name}.key`), value);
        await expectEncrypted(format, path);
        await expectWriteRead(format, path, k);
        if (format === "raw") await expectCryptsetupAccepts(path, k, wrongKey);
        else expect((await opens("qcow2", path, k)).stdout).to.contain("No errors were found on the image.");
        expect(await vd.keyCheck(name)).to.deep.equal({ ok: true, secretUuid: rec.secretUuid });
        // the same volume checked by a qemu-img-backed driver: qemu agrees
        const viaQemu = await openVolumeDriver({ secrets, pool });
        expect(await viaQemu.keyCheck(name)).to.deep.equal({ ok: true, secretUuid: rec.secretUuid });
        await secrets.lookupByUUID(rec.secretUuid!).setValue(Buffer.from("wrong value"));
        expect(await vd.keyCheck(name)).to.deep.equal({ ok: false, secretUuid: rec.secretUuid, reason: WRONG });
        expect(await viaQemu.keyCheck(name)).to.deep.equal({ ok: false, secretUuid: rec.secretUuid, reason: WRONG });
        await vd.delete(name);
        expect(await readdir(pool)).to.not.include(name);
      }
    });
  });
});
