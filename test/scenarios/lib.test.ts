// The scenario harness itself: a boot that reads other data, or opens the
// volume with a wrong passphrase, or names a missing secret, is reported as
// failed (so the scenarios' boot checks can fail); the byte scan finds a
// planted value; the runner removes its workdir; `npm run scenarios` prints
// steps and a summary, and refuses to run without qemu-utils.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { embedURI, generateUUID, openSecretDriver, openVolumeDriver, type SecretDriver } from "../../src/index.js";
import { findScenario, runScenario, SCENARIOS } from "../../scenarios/index.js";
import { bootGuest, diskOf, enc, guestData, installGuest, scanTree, valueForms, volumeXML, type Scenario, type ScenarioResult } from "../../scenarios/lib.js";

const run = promisify(execFile);
const REPO = join(import.meta.dirname, "../..");

async function script(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ["--import", "tsx", join(REPO, "scripts/scenarios.ts"), ...args], { cwd: REPO, env, timeout: 110_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === "number" ? x.code : -1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}

describe("scenario harness", function () {
  this.timeout(120_000);

  describe("bootGuest with real qemu-io", () => {
    let base: string;
    let secrets: SecretDriver;
    before(async () => {
      base = await mkdtemp(join(tmpdir(), "virsecret-harness-"));
      await mkdir(join(base, "pool"));
      await mkdir(join(base, "files"));
      secrets = await openSecretDriver({ uri: embedURI(join(base, "root")) });
    });
    after(async () => {
      await secrets.close();
      await rm(base, { recursive: true, force: true });
    });

    it("reads back what was written; other data, a wrong passphrase and a missing secret all fail the boot", async () => {
      const vd = await openVolumeDriver({ secrets, pool: join(base, "pool"), iterTimeMs: 10, secretFileDir: join(base, "files") });
      await vd.createXML(volumeXML("h.qcow2", "qcow2", "<encryption format='luks'/>"), { generateSecret: "persistent" });
      const disk = await diskOf(vd, "h.qcow2");
      const data = guestData();
      await installGuest(secrets, disk, data, join(base, "files"));

      const good = await bootGuest(secrets, disk, data, join(base, "files"));
      expect(good).to.deep.include({ opened: true, secretRead: "plain", dataMatches: true });

      // the guest expects other bytes than the disk holds: read, but no match
      const other = { regions: data.regions.map((r) => ({ ...r, byte: (r.byte % 254) + 1 })) };
      const mismatch = await bootGuest(secrets, disk, other, join(base, "files"));
      expect(mismatch.opened).to.equal(true);
      expect(mismatch.dataMatches).to.equal(false);
      expect(mismatch.read[0]!.runs).to.deep.equal([[data.regions[0]!.byte, 4096]]);

      const value = await secrets.lookupByUUID(disk.secretUuid).getValue();
      await secrets.lookupByUUID(disk.secretUuid).setValue(enc("not the passphrase"));
      const wrong = await bootGuest(secrets, disk, data, join(base, "files"));
      expect(wrong.opened).to.equal(false);
      expect(wrong.dataMatches).to.equal(false);
      expect(wrong.error).to.contain("Invalid password, cannot unlock any keyslot");
      await secrets.lookupByUUID(disk.secretUuid).setValue(value);

      const missing = await bootGuest(secrets, { ...disk, secretUuid: generateUUID() }, data, join(base, "files"));
      expect(missing.opened).to.equal(false);
      expect(missing.error).to.match(/^NO_SECRET: /);
      expect(await readdir(join(base, "files")), "secret files left behind").to.deep.equal([]);
    });

    it("scanTree finds a value planted raw, as base64 or as hex, and counts the files it read", async () => {
      const dir = join(base, "scan");
      await mkdir(join(dir, "deep"), { recursive: true });
      const v = enc("planted passphrase 123");
      await writeFile(join(dir, "clean"), "nothing here");
      await writeFile(join(dir, "deep", "raw"), Buffer.concat([Buffer.from("x"), Buffer.from(v)]));
      await writeFile(join(dir, "b64"), Buffer.from(v).toString("base64"));
      await writeFile(join(dir, "hex"), Buffer.from(v).toString("hex"));
      const r = await scanTree(dir, valueForms(v));
      expect(r.files).to.equal(4);
      expect(r.hits.sort()).to.deep.equal(["b64", "deep/raw", "hex"]);
    });
  });

  describe("runner", () => {
    it("knows the eight scenarios by id, number and file name", () => {
      expect(SCENARIOS.map((s) => s.id)).to.deep.equal(["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"]);
      expect(findScenario("3")?.id).to.equal("s3");
      expect(findScenario("s8-cluster")?.id).to.equal("s8");
      expect(findScenario("s9")).to.equal(undefined);
    });

    it("a scenario that throws fails, and its workdir is removed anyway", async () => {
      let seen = "";
      const broken: Scenario<ScenarioResult> = {
        id: "s1",
        title: "broken",
        usesKmip: false,
        run: async (ctx) => {
          seen = ctx.workdir;
          await writeFile(join(ctx.workdir, "f"), "x");
          throw new Error("boom");
        },
        verify: () => [],
      };
      const out = await runScenario(broken);
      expect(out.passed).to.equal(false);
      expect((out.error as Error).message).to.equal("boom");
      expect(seen).to.not.equal("");
      expect(existsSync(seen)).to.equal(false);
    });

    it("a scenario whose verdict has a failed check fails", async () => {
      const failing: Scenario<ScenarioResult> = {
        id: "s2",
        title: "failing",
        usesKmip: false,
        run: async () => ({ scenario: "s2" }),
        verify: () => [{ claim: "a", ok: true }, { claim: "b", ok: false }],
      };
      expect((await runScenario(failing)).passed).to.equal(false);
    });

    it("a file left in the secret-file dir fails the check every scenario shares", async () => {
      const leaky: Scenario<ScenarioResult> = {
        id: "s3",
        title: "leaky",
        usesKmip: false,
        run: async (ctx) => {
          await writeFile(join(ctx.secretFiles, "sec0"), "x", { mode: 0o600 });
          return { scenario: "s3" };
        },
        verify: () => [{ claim: "own", ok: true }],
      };
      const out = await runScenario(leaky);
      expect(out.result?.secretFilesLeft).to.deep.equal(["sec0"]);
      expect(out.checks).to.deep.equal([{ claim: "own", ok: true }, { claim: "no secret file left behind", ok: false }]);
      expect(out.passed).to.equal(false);
    });

    it("`npm run scenarios -- s3` prints every step, each check and the summary, and exits 0", async () => {
      const r = await script(["s3"]);
      expect(r.code, r.stderr).to.equal(0);
      const lines = r.stdout.split("\n");
      expect(lines.filter((l) => l.startsWith("[s3] app: ")).length).to.be.greaterThan(2);
      expect(lines.filter((l) => l.startsWith("[s3] check: ok")).length).to.be.greaterThan(5);
      expect(r.stdout).to.not.contain("FAILED");
      expect(r.stdout).to.match(/\n {2}s3 {2}PASS {2}Manually specified passphrase, no local DB/);
      expect(r.stdout).to.contain("all 1 scenario(s) passed");
      expect(r.stdout).to.not.contain("[s1]");
    });

    it("without qemu-img on PATH it names the Debian package and exits non-zero, booting nothing", async () => {
      const empty = await mkdtemp(join(tmpdir(), "virsecret-nopath-"));
      try {
        const r = await script(["s3"], { ...process.env, PATH: empty });
        expect(r.code).to.equal(2);
        expect(r.stderr).to.contain("qemu-img was not found on PATH: install the Debian package 'qemu-utils'");
        expect(r.stdout).to.not.contain("[s3] app:");
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    });

    it("an unknown scenario is refused with exit 2", async () => {
      const r = await script(["s9"]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("unknown scenario 's9' (s1, s2, s3, s4, s5, s6, s7, s8)");
    });
  });
});
