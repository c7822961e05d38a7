// The volume driver with backend 'native': create, key check and delete with
// no qemu-img at all (the MOCK qemu-img of the volume tests is on PATH and
// must never run), and the key-check fallback to the native reader when the
// qemu tools are missing.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import type { Context, KeyManager, ManagedObject } from "../../../src/keystore/key-manager.js";
import { decodeLuks1Header } from "../../../src/storage/luks/luks1.js";
import { openNativeVolume } from "../../../src/storage/luks/native-backend.js";
import { decodeQcow2Header } from "../../../src/storage/luks/qcow2.js";
import { enc, expectVirError, VolEnv, volXML } from "../volume/helpers.js";
import { checkQcow2 } from "./qcow2-check.js";

describe("luks/driver: the volume driver with backend 'native'", function () {
  this.timeout(60_000);
  let env: VolEnv;
  beforeEach(async () => {
    env = await VolEnv.create();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it("create + keyCheck + delete of raw and qcow2 LUKS, generated secrets, qemu never run", async () => {
    const vd = await env.open({ backend: "native" });
    for (const [name, format] of [["a.img", "raw"], ["b.qcow2", "qcow2"]] as const) {
      await vd.createXML(volXML({ name, format }), { generateSecret: "persistent" });
      const path = join(env.pool, name);
      const rec = (await vd.record(name))!;
      expect(rec.ownsSecret).to.equal(true);
      const info = await vd.info(name);
      expect(info.capacity).to.equal(16n * 1024n * 1024n);
      const xml = await vd.getXMLDesc(name);
      expect(xml).to.contain(`<secret type='passphrase' uuid='${rec.secretUuid}'/>`);
      expect(xml).to.contain(`<format type='${format}'/>`);
      if (format === "raw") expect(decodeLuks1Header(await readFile(path)).payloadOffset).to.equal(4096);
      else {
        expect(decodeQcow2Header(await readFile(path)).version).to.equal(2);
        expect((await checkQcow2(path)).errors).to.deep.equal([]);
      }
      // the generated passphrase really opens the file
      const value = await env.secrets.lookupByUUID(rec.secretUuid!).getValue();
      const v = await openNativeVolume(path, value);
      await v.write(0, enc("boot sector"));
      await v.close();
      expect(await vd.keyCheck(name)).to.deep.equal({ ok: true, secretUuid: rec.secretUuid });
      // a changed secret value no longer opens it
      await env.secrets.lookupByUUID(rec.secretUuid!).setValue(enc("changed"));
      expect(await vd.keyCheck(name)).to.deep.equal({ ok: false, secretUuid: rec.secretUuid, reason: "Invalid password, cannot unlock any keyslot" });
      await vd.delete(name);
      expect(await env.poolFiles()).to.not.include(name);
      await expectVirError(() => env.secrets.lookupByUUID(rec.secretUuid!), "NO_SECRET", /no secret with matching uuid/);
    }
    expect(await env.log()).to.deep.equal([]);
    expect((await env.state()).secretFiles).to.deep.equal([]);
  });

  it("libvirt's rule errors come first and a refused create leaves nothing", async () => {
    const vd = await env.open({ backend: "native" });
    await expectVirError(
      () => vd.createXML(volXML({ name: "q.qcow2", format: "qcow2", enc: "<encryption format='qcow'/>" }), { generateSecret: "persistent" }),
      "CONFIG_UNSUPPORTED", "unsupported configuration: creation of qcow2 encrypted image is not supported",
    );
    await expectVirError(
      () => vd.createXML(volXML({ name: "c.img", enc: "<encryption format='luks'><cipher name='serpent' size='256' mode='xts' hash='sha256'/></encryption>" }), { generateSecret: "persistent" }),
      "CONFIG_UNSUPPORTED", /supports cipher aes only/,
    );
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
  });

  it("a file that appears after the checks is STORAGE_VOL_EXIST and stays: not ours, never removed", async () => {
    const path = join(env.pool, "late.img");
    // the keystore read happens after the existence check and the intent: someone creates the file meanwhile
    const inner = env.local();
    const ks: KeyManager = {
      type: inner.type,
      supports: inner.supports,
      createKey: (ctx, o) => inner.createKey(ctx, o),
      storeKey: (ctx, obj, o) => inner.storeKey(ctx, obj, o),
      deleteKey: (ctx, id) => inner.deleteKey(ctx, id),
      copyKey: (ctx, id) => inner.copyKey(ctx, id),
      listKeys: (ctx, f) => inner.listKeys(ctx, f),
      close: () => inner.close(),
      async getKey(ctx: Context | null | undefined, id: string, o?: { metadataOnly?: boolean }): Promise<ManagedObject> {
        await writeFile(path, "someone else's file");
        return inner.getKey(ctx, id, o);
      },
    };
    const vd = await env.open({ backend: "native", keystore: ks, keystoreContext: { user: "u", project: "p" } });
    await expectVirError(() => vd.createXML(volXML({ name: "late.img" }), { generateSecret: "persistent" }), "STORAGE_VOL_EXIST", /'late\.img'/);
    expect(await readFile(path, "utf8")).to.equal("someone else's file");
    const left = await env.state();
    expect(left).to.deep.equal({ files: ["late.img"], secrets: [], volumes: [], pending: [], secretFiles: [] });
    expect(await inner.listKeys({ user: "u", project: "p" })).to.deep.equal([]);
  });

  it("an unknown backend is refused", async () => {
    await expectVirError(() => env.open({ backend: "dd" as "native" }), "INVALID_ARG", "invalid argument: backend must be 'qemu-img' or 'native', not 'dd'");
  });

  it("backend 'qemu-img' without qemu on PATH: keyCheck falls back to the native reader", async () => {
    const made = await env.open({ backend: "native" });
    await made.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" });
    await made.createXML(volXML({ name: "b.qcow2", format: "qcow2" }), { generateSecret: "persistent" });
    const noQemu = await env.open({ env: { PATH: "/nonexistent" } });
    for (const name of ["a.img", "b.qcow2"]) {
      const rec = (await noQemu.record(name))!;
      expect(await noQemu.keyCheck(name)).to.deep.equal({ ok: true, secretUuid: rec.secretUuid });
      await env.secrets.lookupByUUID(rec.secretUuid!).setValue(enc("wrong"));
      expect((await noQemu.keyCheck(name)).ok).to.equal(false);
    }
    // creating still needs qemu-img with this backend (never switched silently)
    await expectVirError(() => noQemu.createXML(volXML({ name: "c.img" }), { generateSecret: "persistent" }), "INTERNAL_ERROR", /not supported without qemu-img/);
  });
});
