// The volume driver with a MOCK qemu-img (see helpers.ts): generated and
// supplied secrets, records in the same store, the §5.2 step-1 errors,
// rollback of every failed create, delete, lookups, dumpxml, key check.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { openSecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { parseSecretXML } from "../../../src/xml/secret.js";
import { parseVolumeXML } from "../../../src/xml/volume.js";
import { VolEnv, enc, expectVirError, secretXML, volXML } from "./helpers.js";

const U1 = "11111111-2222-3333-4444-555555555555";
const U2 = "22222222-3333-4444-5555-666666666666";

describe("storage/volume-driver (mock qemu-img)", () => {
  let env: VolEnv;
  beforeEach(async () => {
    env = await VolEnv.create();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  describe("generated secrets", () => {
    it("persistent: a random 64-hex passphrase, usage volume = path, record in the store, XML names it", async () => {
      const vd = await env.open();
      const ref = await vd.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" });
      const path = join(env.pool, "a.img");
      expect(ref).to.deep.equal({ name: "a.img", path, key: path });

      const rec = (await vd.record("a.img"))!;
      expect(rec).to.include({ name: "a.img", path, format: "raw", capacity: String(16 * 1024 * 1024), ownsSecret: true });
      expect(rec.keyId).to.equal(undefined);
      const h = env.secrets.lookupByUUID(rec.secretUuid!);
      expect(h.usageType).to.equal("volume");
      expect(h.usageID).to.equal(path);
      const def = parseSecretXML(h.getXMLDesc());
      expect(def.ephemeral).to.equal(false);
      expect(def.isPrivate).to.equal(false);
      const value = Buffer.from(await h.getValue()).toString("latin1");
      expect(value).to.match(/^[0-9a-f]{64}$/);

      const xml = await vd.getXMLDesc("a.img");
      expect(xml).to.contain(`<secret type='passphrase' uuid='${rec.secretUuid}'/>`);
      expect(xml).to.contain(`<path>${path}</path>`);
      expect(xml).to.contain("<format type='raw'/>");
      expect(parseVolumeXML(xml).target.encryption?.format).to.equal("luks");
      expect(xml).to.not.contain(value);

      // libvirt's argv, the secret handed as a 0600 file (never on the command line), iter-time passed
      const [run] = await env.log();
      expect(run!.argv.slice(0, 3)).to.deep.equal(["create", "-f", "luks"]);
      expect(run!.argv).to.include("-o");
      expect(run!.argv[run!.argv.indexOf("-o") + 1]).to.equal("key-secret=a.img_encrypt0,iter-time=10");
      expect(run!.argv.slice(-2)).to.deep.equal([path, "16384K"]);
      expect(run!.secretMode).to.equal("600");
      expect(run!.argv.join(" ")).to.not.contain(value);
      expect((await env.state()).secretFiles).to.deep.equal([]);
      expect((await stat(path)).mode & 0o777).to.equal(0o600);

      // survives a restart: secret, value and record come back from the store
      await env.restart();
      const vd2 = await env.open();
      expect((await vd2.record("a.img"))!.secretUuid).to.equal(rec.secretUuid);
      expect(Buffer.from(await env.secrets.lookupByUUID(rec.secretUuid!).getValue()).toString("latin1")).to.equal(value);
      expect(vd2.recovered).to.deep.equal([]);
    });

    it("each volume gets its own passphrase", async () => {
      const vd = await env.open();
      await vd.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" });
      await vd.createXML(volXML({ name: "b.img" }), { generateSecret: "persistent" });
      const va = await env.secrets.elevated().getValue((await vd.record("a.img"))!.secretUuid!);
      const vb = await env.secrets.elevated().getValue((await vd.record("b.img"))!.secretUuid!);
      expect(Buffer.from(va).equals(Buffer.from(vb))).to.equal(false);
    });

    it("ephemeral + private: memory-only private secret, the record still lands; after a restart the secret is gone", async () => {
      const vd = await env.open();
      await vd.createXML(volXML({ name: "q.qcow2", format: "qcow2" }), { generateSecret: "ephemeral", private: true });
      const rec = (await vd.record("q.qcow2"))!;
      const def = parseSecretXML(env.secrets.lookupByUUID(rec.secretUuid!).getXMLDesc());
      expect(def.ephemeral).to.equal(true);
      expect(def.isPrivate).to.equal(true);
      await expectVirError(() => env.secrets.lookupByUUID(rec.secretUuid!).getValue(), "INVALID_SECRET", "Invalid secret: secret is private");
      const value = await env.secrets.elevated().getValue(rec.secretUuid!);
      expect(value.length).to.equal(64);
      const [run] = await env.log();
      expect(run!.argv[run!.argv.indexOf("-o") + 1]).to.equal(
        "encrypt.format=luks,encrypt.key-secret=q.qcow2_encrypt0,encrypt.iter-time=10,compat=0.10",
      );
      expect(await vd.keyCheck("q.qcow2")).to.deep.equal({ ok: true, secretUuid: rec.secretUuid });

      await env.restart();
      const vd2 = await env.open();
      expect(env.secrets.listSecrets(10)).to.deep.equal([]);
      expect((await vd2.record("q.qcow2"))!.secretUuid).to.equal(rec.secretUuid);
      // scenario 2: the app defines it again with the saved value and the volume opens
      await env.secrets.elevated().defineWithValue(secretXML({ uuid: rec.secretUuid!, usage: ["volume", rec.path], ephemeral: true }), value);
      expect((await vd2.keyCheck("q.qcow2")).ok).to.equal(true);
    });

    it("refuses a generated secret without <encryption>, with a named secret, or a key id without keystore", async () => {
      const vd = await env.open();
      await expectVirError(() => vd.createXML(volXML({ name: "a", enc: false }), { generateSecret: "persistent" }), "INVALID_ARG",
        "invalid argument: a generated secret needs an <encryption format='luks'> element in the volume description");
      await expectVirError(
        () => vd.createXML(volXML({ name: "a", enc: `<encryption format='luks'><secret type='passphrase' uuid='${U1}'/></encryption>` }), { generateSecret: "persistent" }),
        "INVALID_ARG", /already names a secret/);
      await expectVirError(() => vd.createXML(volXML({ name: "a" }), { keyId: "k" }), "INVALID_ARG", "invalid argument: a key id (bring your own key) needs a keystore");
      await expectVirError(() => vd.createXML(volXML({ name: "a" }), { generateSecret: "sometimes" as "persistent" }), "INVALID_ARG", /generateSecret must be/);
      await expectVirError(
        () => vd.createXML(volXML({ name: "a", enc: `<encryption format='luks'><secret type='passphrase' uuid='${U1}'/></encryption>` }), { private: true }),
        "INVALID_ARG", /'private' applies only to a generated secret/);
      // format rules still apply (checked before anything is made)
      await expectVirError(() => vd.createXML(volXML({ name: "q", format: "qcow2", enc: "<encryption format='qcow'/>" }), { generateSecret: "persistent" }),
        "CONFIG_UNSUPPORTED", "unsupported configuration: creation of qcow2 encrypted image is not supported");
      expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
      expect(await env.log()).to.deep.equal([]);
    });

    it("refuses when another secret already has the volume's path as usage", async () => {
      const vd = await env.open();
      const path = join(env.pool, "a.img");
      await env.secrets.defineXML(secretXML({ uuid: U1, usage: ["volume", path] }));
      await expectVirError(() => vd.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" }), "INTERNAL_ERROR",
        `internal error: a secret with UUID ${U1} already defined for use with ${path}`);
      expect((await env.state()).files).to.deep.equal([]);
      expect(env.secrets.listSecrets(10)).to.deep.equal([U1]);
    });
  });

  describe("supplied secrets (spec §5.2 step 1)", () => {
    const byUuid = (u: string): string => `<encryption format='luks'><secret type='passphrase' uuid='${u}'/></encryption>`;
    const byUsage = (u: string): string => `<encryption format='luks'><secret type='passphrase' usage='${u}'/></encryption>`;
    const NOTHING = { files: [], volumes: [], pending: [], secretFiles: [] };

    async function nothingMade(secrets: string[]): Promise<void> {
      expect(await env.state()).to.deep.equal({ ...NOTHING, secrets });
      expect(await env.log()).to.deep.equal([]);
    }

    it("no secret, two secrets: libvirt's INVALID_ARG", async () => {
      const vd = await env.open();
      const msg = "invalid argument: A single <secret type='passphrase'...> element is expected in encryption description";
      await expectVirError(() => vd.createXML(volXML({ name: "a" })), "INVALID_ARG", msg);
      await expectVirError(() => vd.createXML(volXML({ name: "a", enc: "<encryption format='default'/>" })), "INVALID_ARG", msg);
      await expectVirError(() => vd.createXML(volXML({
        name: "a", enc: `<encryption format='luks'><secret type='passphrase' uuid='${U1}'/><secret type='passphrase' uuid='${U2}'/></encryption>`,
      })), "INVALID_ARG", msg);
      await nothingMade([]);
    });

    it("unknown uuid, unknown usage: Secret not found", async () => {
      const vd = await env.open();
      await expectVirError(() => vd.createXML(volXML({ name: "a", enc: byUuid(U1) })), "NO_SECRET", `Secret not found: no secret with matching uuid '${U1}'`);
      await expectVirError(() => vd.createXML(volXML({ name: "a", enc: byUsage("/nope") })), "NO_SECRET", "Secret not found: no secret with matching usage '/nope'");
      await nothingMade([]);
    });

    it("wrong usage type: INVALID_ARG naming the type; usage none passes", async () => {
      const vd = await env.open();
      await env.secrets.elevated().defineWithValue(secretXML({ uuid: U1, usage: ["ceph", "client.admin"] }), enc("pw"));
      await expectVirError(() => vd.createXML(volXML({ name: "a", enc: byUuid(U1) })), "INVALID_ARG",
        `invalid argument: secret with uuid ${U1} is of type 'ceph' not expected 'volume' type`);
      await nothingMade([U1]);
      await env.secrets.elevated().defineWithValue(secretXML({ uuid: U2 }), enc("pw2"));
      await vd.createXML(volXML({ name: "a", enc: byUuid(U2) }));
      expect((await vd.record("a"))!).to.include({ secretUuid: U2, ownsSecret: false });
    });

    it("a secret without value: Secret not found ... does not have a value", async () => {
      const vd = await env.open();
      await env.secrets.defineXML(secretXML({ uuid: U1, usage: ["volume", "/x"] }));
      await expectVirError(() => vd.createXML(volXML({ name: "a", enc: byUuid(U1) })), "NO_SECRET", `Secret not found: secret '${U1}' does not have a value`);
      await nothingMade([U1]);
    });

    it("by usage and private: read through the elevated handle; dumpxml keeps the usage as given; delete leaves the secret", async () => {
      const vd = await env.open();
      await env.secrets.elevated().defineWithValue(secretXML({ uuid: U1, usage: ["volume", "/srv/vol-key"], private: true }), enc("user passphrase"));
      await vd.createXML(volXML({ name: "u.qcow2", format: "qcow2", enc: byUsage("/srv/vol-key") }));
      const rec = (await vd.record("u.qcow2"))!;
      expect(rec).to.include({ secretUuid: U1, ownsSecret: false });
      expect(await vd.getXMLDesc("u.qcow2")).to.contain("<secret type='passphrase' usage='/srv/vol-key'/>");
      expect((await vd.keyCheck("u.qcow2")).ok).to.equal(true);
      await vd.delete("u.qcow2");
      expect(await env.state()).to.deep.equal({ ...NOTHING, secrets: [U1] });
    });

    it("keyCheck without QEMU installed falls back to the native LUKS reader (missing program recognised by type)", async () => {
      const made = await env.open({ backend: "native" });
      await env.secrets.elevated().defineWithValue(secretXML({ uuid: U1, usage: ["volume", join(env.pool, "n")] }), enc("first"));
      await made.createXML(volXML({ name: "n", enc: byUuid(U1) }));
      const absent = join(env.pool, "no-such-dir");
      const vd = await env.open({ qemuImg: join(absent, "qemu-img"), qemuIo: join(absent, "qemu-io") });
      expect(await vd.keyCheck("n")).to.deep.equal({ ok: true, secretUuid: U1 });
      await env.secrets.lookupByUUID(U1).setValue(enc("second"));
      expect(await vd.keyCheck("n")).to.deep.equal({ ok: false, secretUuid: U1, reason: "Invalid password, cannot unlock any keyslot" });
    });

    it("the file is made under the value the secret has now; a changed value no longer opens it", async () => {
      const vd = await env.open();
      await env.secrets.elevated().defineWithValue(secretXML({ uuid: U1, usage: ["volume", join(env.pool, "a")] }), enc("first"));
      await vd.createXML(volXML({ name: "a", enc: byUuid(U1) }));
      expect(await vd.keyCheck("a")).to.deep.equal({ ok: true, secretUuid: U1 });
      await env.secrets.lookupByUUID(U1).setValue(enc("second"));
      expect(await vd.keyCheck("a")).to.deep.equal({ ok: false, secretUuid: U1, reason: "Invalid password, cannot unlock any keyslot" });
      const io = (await env.log()).at(-1)!;
      expect(io.prog).to.equal("qemu-io");
      expect(io.argv).to.include("-r");
    });
  });

  describe("rollback", () => {
    it("qemu-img failing part way (disk full): no file, no generated secret, no record, no temp secret file", async () => {
      const vd = await env.open({ env: env.procEnv("fail") });
      await expectVirError(() => vd.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" }), "INTERNAL_ERROR", /No space left on device$/);
      expect((await env.log()).length).to.equal(1);
      expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
    });

    it("qemu-img killed mid-create (SIGKILL): the partial file goes, nothing else was made", async () => {
      const vd = await env.open({ env: env.procEnv("kill") });
      await expectVirError(() => vd.createXML(volXML({ name: "q.qcow2", format: "qcow2" }), { generateSecret: "persistent" }), "INTERNAL_ERROR",
        /unexpected fatal signal SIGKILL/);
      expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
    });

    it("with a supplied secret: the secret stays, everything else goes", async () => {
      await env.secrets.elevated().defineWithValue(secretXML({ uuid: U1, usage: ["volume", "/k"] }), enc("pw"));
      const vd = await env.open({ env: env.procEnv("fail") });
      await expectVirError(() => vd.createXML(volXML({ name: "a", enc: `<encryption format='luks'><secret type='passphrase' uuid='${U1}'/></encryption>` })),
        "INTERNAL_ERROR", /No space left/);
      expect(await env.state()).to.deep.equal({ files: [], secrets: [U1], volumes: [], pending: [], secretFiles: [] });
    });

    it("a commit that fails removes the file made by qemu-img", async () => {
      const vd = await env.open({ env: env.procEnv("wait") });
      // the usage is taken while qemu-img runs, by a racing define: the commit is refused
      const path = join(env.pool, "a.img");
      const p = vd.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" });
      while ((await env.log()).length === 0) await new Promise((r) => setTimeout(r, 20));
      await env.secrets.defineXML(secretXML({ uuid: U1, usage: ["volume", path] }));
      await writeFile(join(env.mockDir, "go"), "");
      await p.then(
        () => expect.fail("create should have failed"),
        (e: Error) => expect(e.message).to.match(/already defined for use with/),
      );
      expect(await env.state()).to.deep.equal({ files: [], secrets: [U1], volumes: [], pending: [], secretFiles: [] });
    });

    it("the CPU-usage failure is retried and the create succeeds", async () => {
      const vd = await env.open({ env: env.procEnv("cpu:2") });
      await vd.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" });
      expect((await env.log()).length).to.equal(3);
      expect((await env.state()).volumes).to.deep.equal([join(env.pool, "a.img")]);
    });

    it("the whole process killed mid-create: the next open removes the half-made file; a foreign file stays", async function () {
      this.timeout(60_000);
      await env.secrets.close(); // the child process takes the root
      await writeFile(join(env.pool, "foreign.img"), "not ours");
      const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("create-child.ts", import.meta.url)), env.root, env.pool, env.secretDir], {
        env: { ...process.env, ...env.procEnv("hang") },
        stdio: ["ignore", "pipe", "pipe"],
      });
      const closed = new Promise((r) => child.once("close", r));
      let err = "";
      child.stderr.on("data", (d) => (err += String(d)));
      child.stdout.resume();
      const hanging = join(env.mockDir, "hanging");
      const deadline = Date.now() + 30_000;
      while (!existsSync(hanging)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`child did not reach qemu-img: ${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const mockPid = Number((await import("node:fs")).readFileSync(hanging, "utf8"));
      child.kill("SIGKILL");
      await closed;
      try {
        process.kill(mockPid, "SIGKILL");
      } catch {
        /* already gone */
      }
      expect(existsSync(join(env.pool, "a.img")), "partial file before recovery").to.equal(true);
      const secretFilesBefore = await readdir(env.secretDir);

      env.secrets = await openSecretDriver({ uri: embedURI(env.root) });
      expect(await env.records("volume-pending")).to.deep.equal([join(env.pool, "a.img")]);
      const vd = await env.open();
      expect(vd.recovered).to.deep.equal([join(env.pool, "a.img")]);
      // the killed create's passphrase file was still there; recovery removed it with the half-made file
      expect(secretFilesBefore.length).to.equal(1);
      const s = await env.state();
      expect(s).to.deep.equal({ files: ["foreign.img"], secrets: [], volumes: [], pending: [], secretFiles: [] });
    });
  });

  describe("delete, lookups, listing, info", () => {
    it("delete removes the file, the generated secret and the record", async () => {
      const vd = await env.open();
      await vd.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" });
      await vd.delete("a.img");
      expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
      await expectVirError(() => vd.delete("a.img"), "NO_STORAGE_VOL", "Storage volume not found: no storage vol with matching name 'a.img'");
    });

    it("delete of an ephemeral generated secret's volume after a restart (secret already gone)", async () => {
      const vd = await env.open();
      await vd.createXML(volXML({ name: "a.img" }), { generateSecret: "ephemeral" });
      await env.restart();
      const vd2 = await env.open();
      await vd2.delete("a.img");
      expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
    });

    it("a delete that stopped after removing the file is finished by deleting again", async () => {
      const vd = await env.open();
      await vd.createXML(volXML({ name: "a.img" }), { generateSecret: "persistent" });
      const { unlink } = await import("node:fs/promises");
      await unlink(join(env.pool, "a.img"));
      await expectVirError(() => vd.lookupByName("a.img"), "NO_STORAGE_VOL", /matching name 'a.img'/);
      await vd.delete("a.img");
      expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
    });

    it("damaged records: a corrupt volume record is an error naming it, a corrupt intent is skipped at open", async () => {
      const path = join(env.pool, "a.img");
      await env.secrets.store.batch([
        { type: "put", space: "volumes", key: path, data: { v: 1, name: "a.img", path: "/other", format: "raw", capacity: "1", ownsSecret: false } },
        { type: "put", space: "volume-pending", key: join(env.pool, "b.img"), data: { v: 2 } },
      ]);
      const warnings: string[] = [];
      const onWarning = (w: Error): void => void warnings.push(w.message);
      process.on("warning", onWarning);
      let vd;
      try {
        vd = await env.open();
        await new Promise((r) => setImmediate(r));
      } finally {
        process.off("warning", onWarning);
      }
      expect(warnings).to.deep.equal([`internal error: corrupt record 'volume-pending/${join(env.pool, "b.img")}' in the store; skipped`]);
      await expectVirError(() => vd.record("a.img"), "INTERNAL_ERROR", `internal error: corrupt record 'volumes/${path}' in the store`);
    });

    it("an existing name is refused (STORAGE_VOL_EXIST) and the file is not touched", async () => {
      const vd = await env.open();
      await writeFile(join(env.pool, "taken.img"), "data");
      await expectVirError(() => vd.createXML(volXML({ name: "taken.img" }), { generateSecret: "persistent" }), "STORAGE_VOL_EXIST",
        "storage volume already exists: 'taken.img'");
      await expectVirError(() => vd.createXML(volXML({ name: "a/b" }), { generateSecret: "persistent" }), "OPERATION_INVALID",
        "Requested operation is not valid: volume name 'a/b' cannot contain '/'");
      expect(await env.state()).to.deep.equal({ files: ["taken.img"], secrets: [], volumes: [], pending: [], secretFiles: [] });
    });

    it("lookups, list, info and the §5.3 secret of a file the driver did not make", async () => {
      const vd = await env.open();
      // the target path in the XML is the pool's business: it is replaced by <pool>/<name>
      await vd.createXML(volXML({ name: "a.img", path: "/elsewhere/x.img", capacity: "4" }), { generateSecret: "persistent" });
      await vd.createXML(volXML({ name: "plain.img", enc: false, capacity: "1" }));
      await writeFile(join(env.pool, "other.img"), "x");
      const path = join(env.pool, "a.img");
      expect((await vd.list()).map((v) => v.name)).to.deep.equal(["a.img", "other.img", "plain.img"]);
      expect(await vd.lookupByName("a.img")).to.deep.equal({ name: "a.img", path, key: path });
      expect(await vd.lookupByPath(env.pool + "//a.img")).to.deep.equal({ name: "a.img", path, key: path });
      await expectVirError(() => vd.lookupByPath("/elsewhere/x.img"), "NO_STORAGE_VOL", "Storage volume not found: no storage vol with matching path '/elsewhere/x.img'");
      await expectVirError(() => vd.lookupByName("nope"), "NO_STORAGE_VOL", "Storage volume not found: no storage vol with matching name 'nope'");
      await expectVirError(() => vd.lookupByName(".."), "NO_STORAGE_VOL", /matching name '\.\.'/);
      const info = await vd.info("a.img");
      expect(info.type).to.equal("file");
      expect(info.capacity).to.equal(4n * 1024n * 1024n);
      expect(typeof info.allocation).to.equal("bigint");
      expect(await vd.record("other.img")).to.equal(undefined);
      expect((await vd.record("plain.img"))!).to.include({ ownsSecret: false, format: "raw" });
      expect((await vd.record("plain.img"))!.secretUuid).to.equal(undefined);
      await expectVirError(() => vd.keyCheck("plain.img"), "OPERATION_INVALID", "Requested operation is not valid: volume 'plain.img' is not encrypted");

      // a LUKS file in the pool that we did not make: its secret is the one whose usage is its path (spec §5.3)
      const { copyFile } = await import("node:fs/promises");
      await copyFile(path, join(env.pool, "copy.img"));
      const bare = await vd.getXMLDesc("copy.img"); expect(bare, bare).to.contain("<encryption format='luks'>\n    </encryption>");
      await expectVirError(() => vd.keyCheck("copy.img"), "XML_ERROR", "XML error: no secret provided for luks encryption");
      const value = await env.secrets.elevated().getValue((await vd.record("a.img"))!.secretUuid!);
      await env.secrets.elevated().defineWithValue(secretXML({ uuid: U2, usage: ["volume", join(env.pool, "copy.img")] }), value);
      expect(await vd.getXMLDesc("copy.img")).to.contain(`<secret type='passphrase' uuid='${U2}'/>`);
      expect((await vd.keyCheck("copy.img")).ok).to.equal(true);
      // deleting a file with no record removes only the file
      await vd.delete("copy.img");
      expect(env.secrets.listSecrets(10)).to.include(U2);
    });
  });
});
