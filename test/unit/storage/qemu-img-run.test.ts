// src/storage/qemu-img.ts, the runner, and src/storage/secret-file.ts.
// qemu-img's random "Unable to get accurate CPU usage" failure cannot be
// provoked on demand, so these tests put a MOCK qemu-img (a shell script in a
// temp dir) first on PATH. The real qemu-img is exercised in test/interop/storage.
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { expect } from "chai";
import { QemuToolMissingError, runQemuImg, type RunQemuImgOptions } from "../../../src/storage/qemu-img.js";
import { withSecretFile, writeSecretFile } from "../../../src/storage/secret-file.js";
import { expectVirError } from "./helpers.js";

let dir: string;

/** Install a mock qemu-img whose body is `script`; it counts its runs in $dir/count. */
async function mockQemuImg(script: string): Promise<RunQemuImgOptions> {
  const body = `#!/bin/sh
# MOCK qemu-img for unit tests (not the real program)
n=$(cat '${dir}/count' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '${dir}/count'
${script}
`;
  await writeFile(join(dir, "qemu-img"), body);
  await chmod(join(dir, "qemu-img"), 0o755);
  // the mock shadows the real qemu-img; the system dirs stay for sh, cat, stat, cmp
  return { env: { PATH: `${dir}:/usr/bin:/bin` }, retryDelayMs: 1 };
}

async function runs(): Promise<number> {
  return Number((await readFile(join(dir, "count"), "utf8").catch(() => "0")).trim());
}

const ARGV = ["qemu-img", "create", "-f", "luks", "/srv/pool/a.img", "1024K"];
const CPU_FAIL = `echo "qemu-img: /srv/pool/a.img: Unable to get accurate CPU usage" >&2; exit 1`;

describe("storage/qemu-img run (mock qemu-img)", () => {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "virsecret-qemuimg-mock-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("retries the CPU-usage failure: fails twice, succeeds on the third run", async () => {
    const opts = await mockQemuImg(`if [ $n -le 2 ]; then ${CPU_FAIL}; fi
echo "Formatting '/srv/pool/a.img', fmt=luks size=1048576"; exit 0`);
    const r = await runQemuImg(ARGV, opts);
    expect(r.tries).to.equal(3);
    expect(r.stdout).to.contain("Formatting");
    expect(await runs()).to.equal(3);
  });

  it("gives up after maxTries when the CPU-usage failure keeps coming", async () => {
    const opts = await mockQemuImg(CPU_FAIL);
    const e = await expectVirError(() => runQemuImg(ARGV, { ...opts, maxTries: 3 }), "INTERNAL_ERROR", /Unable to get accurate CPU usage \(gave up after 3 tries\)$/);
    expect(e.message).to.equal(
      `internal error: Child process (${ARGV.join(" ")}) unexpected exit status 1: qemu-img: /srv/pool/a.img: Unable to get accurate CPU usage (gave up after 3 tries)`,
    );
    expect(await runs()).to.equal(3);
  });

  it("the default bound is 20 tries", async () => {
    const opts = await mockQemuImg(CPU_FAIL);
    await expectVirError(() => runQemuImg(ARGV, opts), "INTERNAL_ERROR", /gave up after 20 tries/);
    expect(await runs()).to.equal(20);
  });

  it("any other failure is not retried and carries qemu-img's stderr", async () => {
    const opts = await mockQemuImg(`echo "qemu-img: /srv/pool/a.img: Could not create '/srv/pool/a.img': Permission denied" >&2; exit 1`);
    await expectVirError(
      () => runQemuImg(ARGV, opts),
      "INTERNAL_ERROR",
      `internal error: Child process (${ARGV.join(" ")}) unexpected exit status 1: qemu-img: /srv/pool/a.img: Could not create '/srv/pool/a.img': Permission denied`,
    );
    expect(await runs()).to.equal(1);
  });

  it("the CPU-usage text mixed with another error is not retried", async () => {
    const opts = await mockQemuImg(`echo "qemu-img: a: Unable to get accurate CPU usage" >&2; echo "qemu-img: disk full" >&2; exit 1`);
    await expectVirError(() => runQemuImg(ARGV, opts), "INTERNAL_ERROR", /disk full$/);
    expect(await runs()).to.equal(1);
  });

  it("a crash by signal is reported, not retried", async () => {
    const opts = await mockQemuImg(`kill -SEGV $$`);
    await expectVirError(() => runQemuImg(ARGV, opts), "INTERNAL_ERROR", /unexpected fatal signal SIGSEGV$/);
    expect(await runs()).to.equal(1);
  });

  it("a missing qemu-img names the Debian package", async () => {
    await expectVirError(
      () => runQemuImg(ARGV, { env: { PATH: dir } }),
      "INTERNAL_ERROR",
      "internal error: creation of non-raw file images is not supported without qemu-img. 'qemu-img' was not found on PATH: install the Debian package 'qemu-utils'",
    );
    // typed, so the volume driver's fallback to the native reader does not match text
    const e = await runQemuImg(ARGV, { env: { PATH: dir } }).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).to.be.instanceOf(QemuToolMissingError);
    expect((e as QemuToolMissingError).program).to.equal("qemu-img");
  });

  it("a timeout kills the child and waits for it", async () => {
    const opts = await mockQemuImg(`echo $$ > '${dir}/pid'; exec sleep 30`);
    const t0 = Date.now();
    await expectVirError(() => runQemuImg(ARGV, { ...opts, timeoutMs: 300 }), "OPERATION_TIMEOUT", /did not finish within 300 ms and was killed/);
    expect(Date.now() - t0).to.be.lessThan(5000);
    const pid = Number((await readFile(join(dir, "pid"), "utf8")).trim());
    expect(() => process.kill(pid, 0)).to.throw(/ESRCH/);
  });

  it("an abort signal kills the child; an already aborted signal never starts it", async () => {
    const opts = await mockQemuImg(`exec sleep 30`);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    await expectVirError(() => runQemuImg(ARGV, { ...opts, signal: ac.signal }), "OPERATION_ABORTED", "operation aborted: qemu-img was stopped before it finished");
    await expectVirError(() => runQemuImg(ARGV, { ...opts, signal: AbortSignal.abort() }), "OPERATION_ABORTED", /stopped/);
    expect(await runs()).to.equal(1);
  });

  it("the child sees LC_ALL=C so the failure text is the English one", async () => {
    const opts = await mockQemuImg(`echo "$LC_ALL"`);
    expect((await runQemuImg(ARGV, opts)).stdout.trim()).to.equal("C");
  });
});

describe("storage/secret-file", () => {
  const VALUE = Buffer.from("s3cret-passphrase\x00\xff no newline");

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "virsecret-secretfile-test-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the raw value to a 0600 file in a private 0700 directory; dispose removes both", async () => {
    const f = await writeSecretFile(VALUE, { dir, name: "pool.vol" });
    expect((await stat(f.path)).mode & 0o777).to.equal(0o600);
    expect((await stat(dirname(f.path))).mode & 0o777).to.equal(0o700);
    expect(dirname(dirname(f.path))).to.equal(dir);
    expect(f.path.endsWith("/pool.vol.secret")).to.equal(true);
    expect(Buffer.compare(await readFile(f.path), VALUE)).to.equal(0);
    await f.dispose();
    expect(existsSync(f.path)).to.equal(false);
    expect(existsSync(dirname(f.path))).to.equal(false);
    await f.dispose(); // second call is harmless
  });

  it("a volume name with '/' cannot escape the private directory", async () => {
    const f = await writeSecretFile(VALUE, { dir, name: "../../etc/x" });
    expect(dirname(dirname(f.path))).to.equal(dir);
    await f.dispose();
  });

  it("removed after a successful qemu-img run, and the file was 0600 with the value while it ran", async () => {
    const opts = await mockQemuImg(`for a in "$@"; do case "$a" in secret,*) f="\${a##*file=}";; esac; done
stat -c %a "$f" > '${dir}/mode'; cmp -s "$f" '${dir}/expected' && echo same > '${dir}/cmp'; exit 0`);
    await writeFile(join(dir, "expected"), VALUE);
    let seen = "";
    await withSecretFile(VALUE, async (path) => {
      seen = path;
      await runQemuImg(["qemu-img", "create", "--object", `secret,id=s0,file=${path}`, "/x", "1K"], opts);
    }, { dir });
    expect((await readFile(join(dir, "mode"), "utf8")).trim()).to.equal("600");
    expect((await readFile(join(dir, "cmp"), "utf8")).trim()).to.equal("same");
    expect(existsSync(seen)).to.equal(false);
    expect(existsSync(dirname(seen))).to.equal(false);
  });

  it("removed after a failed qemu-img run too", async () => {
    const opts = await mockQemuImg(`echo "qemu-img: /x: Could not create" >&2; exit 1`);
    let seen = "";
    await expectVirError(
      () => withSecretFile(VALUE, async (path) => {
        seen = path;
        expect(existsSync(path)).to.equal(true);
        await runQemuImg(["qemu-img", "create", "--object", `secret,id=s0,file=${path}`, "/x", "1K"], opts);
      }, { dir }),
      "INTERNAL_ERROR", /Could not create/,
    );
    expect(seen).to.not.equal("");
    expect(existsSync(seen)).to.equal(false);
    expect(existsSync(dirname(seen))).to.equal(false);
  });

  it("the value never appears in the error of a failed run", async () => {
    const opts = await mockQemuImg(`echo "qemu-img: failed" >&2; exit 1`);
    const e = await expectVirError(
      () => withSecretFile(VALUE, (path) => runQemuImg(["qemu-img", "create", "--object", `secret,id=s0,file=${path}`, "/x", "1K"], opts), { dir }),
      "INTERNAL_ERROR", /failed/,
    );
    expect(e.message).to.not.contain("s3cret");
    expect(String(e.stack)).to.not.contain("s3cret");
  });

  it("a directory that cannot be created gives a typed error", async () => {
    await expectVirError(() => writeSecretFile(VALUE, { dir: join(dir, "missing", "deeper") }), "SYSTEM_ERROR", /cannot create directory for the volume secret/);
  });
});
