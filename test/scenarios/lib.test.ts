// The scenario harness itself: a boot that reads other data, or opens the
// volume with a wrong passphrase, or names a missing secret, is reported as
// failed (so the scenarios' boot checks can fail); the byte scan finds a
// planted value; the runner removes its workdir; `npm run scenarios` prints
// the tooling, steps and a summary, boots with the native LUKS reader where
// QEMU is absent, and refuses to run when a forced or needed tool is missing.
// Each harness test runs with both toolings (qemu-io and the native reader).
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, realpath, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { expect } from "chai";
import { embedURI, generateUUID, openSecretDriver, openVolumeDriver, type SecretDriver } from "../../src/index.js";
import { findScenario, runScenario, SCENARIOS } from "../../scenarios/index.js";
import {
  bootGuest,
  describeBoot,
  diskOf,
  enc,
  guestData,
  imageInfo,
  installGuest,
  parseToolsChoice,
  readerName,
  scanTree,
  valueForms,
  volumeOptions,
  volumeXML,
  type GuestIO,
  type Scenario,
  type ScenarioResult,
} from "../../scenarios/lib.js";
import { TOOLINGS } from "./helpers.js";

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

/** `npm run scenarios -- ...` through the npm on PATH (npm-cli run by this node). */
async function npmScenarios(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [await npmCli(), "run", "--silent", "scenarios", "--", ...args], { cwd: REPO, env, timeout: 110_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof x.code === "number" ? x.code : -1, stdout: x.stdout ?? "", stderr: x.stderr ?? "" };
  }
}

/** The absolute path of `program` on this process's PATH. */
async function which(program: string): Promise<string> {
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    const p = join(dir, program);
    if (dir !== "" && existsSync(p)) return p;
  }
  throw new Error(`${program} is not on PATH`);
}

/** npm's own script (npm on PATH is a link to it or a shell wrapper next to it). */
async function npmCli(): Promise<string> {
  const real = await realpath(await which("npm"));
  if (real.endsWith(".js")) return real;
  const beside = join(dirname(real), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js");
  if (existsSync(beside)) return beside;
  throw new Error(`cannot find npm-cli.js from ${real}`);
}

/** Run `fn` with a PATH that is one temp dir holding links to exactly `programs`. */
async function withPath(programs: string[], fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "virsecret-path-"));
  try {
    for (const p of programs) await symlink(p, join(dir, basename(p)));
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("scenario harness", function () {
  this.timeout(120_000);

  for (const tools of TOOLINGS) {
    describe(`bootGuest with ${readerName(tools)}`, () => {
      let base: string;
      let secrets: SecretDriver;
      const io = (): GuestIO => ({ tools, secretFiles: join(base, "files") });
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

      it("reads back what was written; other data, a wrong passphrase, a missing secret and the wrong format all fail the boot", async () => {
        const vd = await openVolumeDriver({ secrets, pool: join(base, "pool"), ...volumeOptions(io()) });
        await vd.createXML(volumeXML("h.qcow2", "qcow2", "<encryption format='luks'/>"), { generateSecret: "persistent" });
        const disk = await diskOf(vd, "h.qcow2");
        const data = guestData();
        await installGuest(secrets, disk, data, io());

        const good = await bootGuest(secrets, disk, data, io());
        expect(good).to.deep.include({ tool: tools, opened: true, secretRead: "plain", dataMatches: true });
        expect(describeBoot(good)).to.match(new RegExp(`^${readerName(tools)} read back 8 KiB ok \\(secret read plain\\): @0: `));

        // the guest expects other bytes than the disk holds: read, but no match
        const other = { regions: data.regions.map((r) => ({ ...r, byte: (r.byte % 254) + 1 })) };
        const mismatch = await bootGuest(secrets, disk, other, io());
        expect(mismatch.opened).to.equal(true);
        expect(mismatch.dataMatches).to.equal(false);
        expect(mismatch.read[0]!.runs).to.deep.equal([[data.regions[0]!.byte, 4096]]);
        expect(describeBoot(mismatch)).to.contain("WRONG");

        const value = await secrets.lookupByUUID(disk.secretUuid).getValue();
        await secrets.lookupByUUID(disk.secretUuid).setValue(enc("not the passphrase"));
        const wrong = await bootGuest(secrets, disk, data, io());
        expect(wrong.opened).to.equal(false);
        expect(wrong.dataMatches).to.equal(false);
        expect(wrong.error).to.contain("Invalid password, cannot unlock any keyslot");
        expect(wrong.error).to.not.contain("not the passphrase");
        await secrets.lookupByUUID(disk.secretUuid).setValue(value);

        const missing = await bootGuest(secrets, { ...disk, secretUuid: generateUUID() }, data, io());
        expect(missing.opened).to.equal(false);
        expect(missing.error).to.match(/^NO_SECRET: /);

        // the description says raw LUKS, the file is qcow2: opened as raw LUKS it must not boot
        const asRaw = await bootGuest(secrets, { ...disk, format: "raw" }, data, io());
        expect(asRaw.opened).to.equal(false);
        expect(asRaw.error).to.be.a("string").and.not.equal("");
        expect(await readdir(join(base, "files")), "secret files left behind").to.deep.equal([]);
      });

      it("imageInfo reports a raw LUKS volume and a plain qcow2 as they are", async () => {
        const vd = await openVolumeDriver({ secrets, pool: join(base, "pool"), ...volumeOptions(io()) });
        await vd.createXML(volumeXML("r.img", "raw", "<encryption format='luks'/>"), { generateSecret: "ephemeral" });
        await vd.createXML(volumeXML("plain.qcow2", "qcow2", ""));
        const by = tools === "qemu" ? "qemu-img info" : "native header probe";
        expect(await imageInfo(join(base, "pool", "r.img"), tools)).to.deep.equal({ format: "luks", encrypted: true, encryptFormat: "luks", by });
        expect(await imageInfo(join(base, "pool", "plain.qcow2"), tools)).to.deep.equal({ format: "qcow2", encrypted: false, by });
      });
    });
  }

  describe("byte scans", () => {
    let base: string;
    before(async () => {
      base = await mkdtemp(join(tmpdir(), "virsecret-harness-"));
    });
    after(async () => {
      await rm(base, { recursive: true, force: true });
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
      expect(lines[0]).to.match(/^tooling: QEMU: /);
      expect(lines.filter((l) => l.startsWith("[s3] app: ")).length).to.be.greaterThan(2);
      expect(lines.filter((l) => l.startsWith("[s3] check: ok")).length).to.be.greaterThan(5);
      expect(r.stdout).to.not.contain("FAILED");
      expect(r.stdout).to.match(/\n {2}s3 {2}PASS {2}Manually specified passphrase, no local DB/);
      expect(r.stdout).to.contain("all 1 scenario(s) passed");
      expect(r.stdout).to.not.contain("[s1]");
    });

    it("--tools=qemu without qemu-img on PATH names the Debian package and exits 2, booting nothing", async () => {
      await withPath([], async (path) => {
        const r = await script(["s3", "--tools=qemu"], { ...process.env, PATH: path });
        expect(r.code).to.equal(2);
        expect(r.stderr).to.contain("qemu-img was not found on PATH: install the Debian package 'qemu-utils'");
        expect(r.stdout).to.not.contain("[s3] app:");
      });
    });

    it("with no QEMU on PATH, auto boots s3 with the native LUKS reader (s3 needs no openssl)", async () => {
      await withPath([], async (path) => {
        const r = await script(["s3"], { ...process.env, PATH: path });
        expect(r.code, r.stderr).to.equal(0);
        expect(r.stdout.split("\n")[0]).to.match(/^tooling: native: /);
        expect(r.stdout).to.contain("(--tools=auto: qemu-img and qemu-io not on PATH (Debian package 'qemu-utils'))");
        expect(r.stdout).to.match(/\n\[s3\] agent boots the guest \(key from memory\): native LUKS reader read back 8 KiB ok /);
        expect(r.stdout).to.not.contain("qemu-io read back");
        expect(r.stdout).to.contain("all 1 scenario(s) passed");
      });
    });

    it("`npm run scenarios -- s1 --tools=auto` with only node, npm, sh and openssl on PATH passes via the native reader", async () => {
      // npm runs package scripts with the `sh` it finds on PATH
      const programs = [process.execPath, await which("npm"), await which("sh"), await which("openssl")];
      await withPath(programs, async (path) => {
        // the PATH really has no QEMU on it
        for (const p of ["qemu-img", "qemu-io"]) {
          const e = await run(p, ["--version"], { env: { PATH: path } }).then(() => undefined, (x: NodeJS.ErrnoException) => x);
          expect(e?.code, `${p} must not be found`).to.equal("ENOENT");
        }
        const r = await npmScenarios(["s1", "--tools=auto"], { ...process.env, PATH: path });
        expect(r.code, r.stderr + r.stdout).to.equal(0);
        expect(r.stdout).to.match(/(^|\n)tooling: native: volumes created by the volume driver's native backend/);
        expect(r.stdout).to.contain("[s1] tooling: native: ");
        expect(r.stdout).to.match(/\n\[s1\] agent boots the guest: native LUKS reader read back 8 KiB ok \(secret read elevated\)/);
        expect(r.stdout).to.match(/\[s1\] check: ok {5}boot after restart: native LUKS reader opened the encrypted volume/);
        expect(r.stdout).to.match(/\n {2}s1 {2}PASS {2}/);
        expect(r.stdout).to.contain("all 1 scenario(s) passed");
      });
    });

    it("VIRSECRET_SCENARIO_TOOLS=native picks the native tooling even with QEMU on PATH; --tools overrides it", async () => {
      const r = await script(["s3"], { ...process.env, VIRSECRET_SCENARIO_TOOLS: "native" });
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.match(/^tooling: native: .*\n {2}\(--tools=native\)\n/);
      expect(r.stdout).to.contain("native LUKS reader read back 8 KiB ok");
      const q = await script(["s3", "--tools=qemu"], { ...process.env, VIRSECRET_SCENARIO_TOOLS: "native" });
      expect(q.code, q.stderr).to.equal(0);
      expect(q.stdout).to.match(/^tooling: QEMU: /);
      expect(q.stdout).to.contain("qemu-io read back 8 KiB ok");
    });

    it("without openssl, a KMIP scenario that must start our server names the Debian package 'openssl' and exits 2", async () => {
      await withPath([], async (path) => {
        const r = await script(["s4", "s8", "--kmip=virsecret"], { ...process.env, PATH: path });
        expect(r.code).to.equal(2);
        expect(r.stderr).to.contain("openssl was not found on PATH: install the Debian package 'openssl'");
        expect(r.stderr).to.contain("s4, s8 start virsecret's own KMIP server");
        expect(r.stdout).to.not.contain("[s4]");
        // QEMU forced as well: both missing programs are named at once
        const both = await script(["s5", "--kmip=virsecret", "--tools=qemu"], { ...process.env, PATH: path });
        expect(both.code).to.equal(2);
        expect(both.stderr).to.contain("install the Debian package 'qemu-utils'");
        expect(both.stderr).to.contain("install the Debian package 'openssl'");
      });
    });

    it("an unknown tooling is refused with exit 2", async () => {
      const r = await script(["s3", "--tools=kvm"]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("unknown tooling 'kvm': use auto, qemu or native");
      expect(parseToolsChoice(undefined)).to.equal("auto");
      expect(parseToolsChoice("native")).to.equal("native");
    });

    it("an unknown scenario is refused with exit 2", async () => {
      const r = await script(["s9"]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("unknown scenario 's9' (s1, s2, s3, s4, s5, s6, s7, s8)");
    });
  });
});
