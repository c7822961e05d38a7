// The native tooling makes the same format QEMU reads: volumes the volume
// driver's native backend created in a scenario run (and the native LUKS
// writer filled) are opened by real qemu-io, which reads back the guest's
// data; qemu-io then writes new data that the native reader reads back.
// Runs only where qemu-img and qemu-io are on PATH.
import { open, readdir } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { embedURI, openSecretDriver, openVolumeDriver, type SecretDriver } from "../../src/index.js";
import { s1, s7 } from "../../scenarios/index.js";
import { bootGuest, diskOf, guestData, imageInfo, installGuest, resolveTools, type Disk, type GuestData, type GuestIO } from "../../scenarios/lib.js";
import { endState, expectBooted } from "./helpers.js";

/** payload-offset (512-byte sectors) of a raw LUKS1 file: 4096 from the native backend, 4040 from qemu-img */
async function luksPayloadOffset(path: string): Promise<number> {
  const fh = await open(path, "r");
  try {
    const b = Buffer.alloc(108);
    await fh.read(b, 0, 108, 0);
    expect(b.subarray(0, 6).toString("latin1")).to.equal("LUKS\xba\xbe");
    return b.readUInt32BE(104);
  } finally {
    await fh.close();
  }
}

/** qemu-io reads what the native writer wrote; qemu-io writes, the native reader reads it back. */
async function bothWays(secrets: SecretDriver, disk: Disk, written: GuestData, files: string): Promise<void> {
  const qemu: GuestIO = { tools: "qemu", secretFiles: files };
  const native: GuestIO = { tools: "native", secretFiles: files };
  expectBooted(await bootGuest(secrets, disk, written, qemu), written, "qemu");
  const info = await imageInfo(disk.path, "qemu");
  expect(info).to.include({ encrypted: true, encryptFormat: "luks", format: disk.format === "raw" ? "luks" : "qcow2" });
  const next = guestData();
  await installGuest(secrets, disk, next, qemu);
  expectBooted(await bootGuest(secrets, disk, next, native), next, "native");
}

describe("scenario volumes made natively, opened by real qemu-io", function () {
  this.timeout(120_000);
  before(async function () {
    // the interop suite needs the real tools, like every other interop test: fail, don't skip
    expect((await resolveTools("auto")).tools, "qemu-img and qemu-io (Debian qemu-utils) must be on PATH").to.equal("qemu");
  });

  it("s1 (native): qemu-io opens the qcow2 LUKS volume with the passphrase from the local DB and reads the guest's data", async () => {
    let checked = 0;
    await endState(s1, {
      tools: "native",
      beforeCleanup: async (workdir, r) => {
        const files = join(workdir, "secret-files");
        const secrets = await openSecretDriver({ uri: embedURI(join(workdir, "root")) });
        try {
          const vd = await openVolumeDriver({ secrets, pool: join(workdir, "pool"), secretFileDir: files });
          const disk = await diskOf(vd, r.volume.name);
          expect(disk).to.deep.equal({ path: r.volume.path, format: "qcow2", secretUuid: r.volume.secretUuid });
          await bothWays(secrets, disk, r.data, files);
          // the volume driver's qemu-img/qemu-io key check agrees
          expect(await vd.keyCheck(r.volume.name)).to.deep.equal({ ok: true, secretUuid: r.volume.secretUuid });
          checked++;
        } finally {
          await secrets.close();
        }
        expect(await readdir(files), "secret files left behind").to.deep.equal([]);
      },
    });
    expect(checked).to.equal(1);
  });

  it("s7 (native): qemu-io opens every tenant's raw and qcow2 LUKS volume (raw ones carry the native payload offset 4096)", async () => {
    const seen: string[] = [];
    await endState(s7, {
      tools: "native",
      beforeCleanup: async (workdir, r) => {
        const files = join(workdir, "secret-files");
        const secrets = await openSecretDriver({ uri: embedURI(join(workdir, "root")) });
        try {
          for (const [tenant, end] of [["alice", r.alice], ["bob", r.bob]] as const) {
            const vd = await openVolumeDriver({ secrets, pool: join(workdir, `pool-${tenant}`), secretFileDir: files });
            for (const name of end.volumes) {
              const disk = await diskOf(vd, name);
              // qemu-img would have written 4040: this file is the native backend's
              if (disk.format === "raw") expect(await luksPayloadOffset(disk.path)).to.equal(4096);
              await bothWays(secrets, disk, r.data, files);
              seen.push(`${disk.format}:${name}`);
            }
          }
        } finally {
          await secrets.close();
        }
        expect(await readdir(files), "secret files left behind").to.deep.equal([]);
      },
    });
    expect(seen.sort()).to.deep.equal(["qcow2:alice-gen.qcow2", "qcow2:bob-gen.qcow2", "raw:alice-byok.img", "raw:bob-byok.img"]);
  });
});
