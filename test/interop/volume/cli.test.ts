// vol-create / vol-key-check / vol-delete through the CLI with the REAL
// qemu-img, qemu-io and cryptsetup: raw-LUKS and qcow2-LUKS volumes with a
// generated secret, opened by the tools with the value read back through the
// secret driver; the passphrase never appears in the CLI's output.
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import { CapturedIO } from "../../../src/cli/io.js";
import { main } from "../../../src/cli/main.js";
import { openSecretDriver, type SecretDriver } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";
import { expectCryptsetupAccepts, expectEncrypted, expectWriteRead, keyFile, opens } from "./tools.js";

describe("interop/volume: the vol-* CLI with real qemu-img, qemu-io and cryptsetup", function () {
  this.timeout(120_000);
  let base: string;
  let root: string;
  let pool: string;
  let secrets: SecretDriver;
  const outputs: string[] = [];

  async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const io = new CapturedIO({ env: {} });
    const code = await main(argv, io, { driver: secrets });
    outputs.push(io.stdoutText, io.stderrText);
    return { code, out: io.stdoutText, err: io.stderrText };
  }

  before(async () => {
    base = await mkdtemp(join(tmpdir(), "virsecret-vol-cli-interop-"));
    root = join(base, "root");
    pool = join(base, "pool");
    await mkdir(pool);
    secrets = await openSecretDriver({ uri: embedURI(root) });
  });
  after(async () => {
    await secrets.close();
    await rm(base, { recursive: true, force: true });
  });

  for (const format of ["raw", "qcow2"] as const) {
    it(`${format}-LUKS: vol-create --generate-secret, the tools open it, vol-key-check, vol-delete`, async () => {
      const name = format === "raw" ? "cli.img" : "cli.qcow2";
      const xml = join(base, `${name}.xml`);
      await writeFile(xml, `<volume><name>${name}</name><capacity unit='MiB'>8</capacity><target><format type='${format}'/><encryption format='luks'/></target></volume>`);
      let r = await cli(["vol-create", xml, "--pool", pool, "--generate-secret", "persistent", "--iter-time", "10"]);
      expect(r, r.err).to.deep.equal({ code: 0, out: `Vol ${name} created from ${xml}\n\n`, err: "" });

      const path = join(pool, name);
      r = await cli(["vol-dumpxml", name, "--pool", pool]);
      const uuid = /uuid='([0-9a-f-]{36})'/.exec(r.out)![1]!;
      const value = await secrets.elevated().getValue(uuid);
      const key = await keyFile(join(base, `${name}.key`), value);
      const wrong = await keyFile(join(base, "wrong.key"), "wrong passphrase");
      await expectEncrypted(format, path);
      expect((await opens(format, path, key)).code).to.equal(0);
      expect((await opens(format, path, wrong)).stderr).to.contain("Invalid password, cannot unlock any keyslot");
      await expectWriteRead(format, path, key);
      if (format === "raw") await expectCryptsetupAccepts(path, key, wrong);

      r = await cli(["vol-key-check", name, "--pool", pool]);
      expect(r).to.deep.equal({ code: 0, out: `Vol ${name} opens with secret ${uuid}\n\n`, err: "" });
      r = await cli(["vol-info", name, "--pool", pool]);
      expect(r.out).to.match(new RegExp(`^Name:           ${name.replace(".", "\\.")}\nType:           file\nCapacity:       8\\.00 MiB\nAllocation:     `));

      r = await cli(["vol-delete", name, "--pool", pool]);
      expect(r).to.deep.equal({ code: 0, out: `Vol ${name} deleted\n\n`, err: "" });
      expect(await readdir(pool)).to.deep.equal([]);
      expect(secrets.listSecrets(10)).to.deep.equal([]);
      const text = Buffer.from(value).toString("latin1");
      for (const o of outputs) expect(o).to.not.contain(text);
    });
  }
});
