// The vol-* commands through main(), byte for byte, with a MOCK qemu-img (see
// helpers.ts) and the secret driver passed in open (MainOptions.driver).
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { expect } from "chai";
import { CapturedIO } from "../../../src/cli/io.js";
import { main } from "../../../src/cli/main.js";
import { openNativeVolume } from "../../../src/storage/luks/native-backend.js";
import { prettyCapacity } from "../../../src/cli/vol-commands.js";
import { VolEnv, volXML } from "./helpers.js";

interface Run {
  code: number;
  out: string;
  err: string;
}

describe("cli: vol-* commands (mock qemu-img)", () => {
  let env: VolEnv;
  let xmlFile: string;
  let outputs: string[] = [];
  beforeEach(async () => {
    outputs = [];
    env = await VolEnv.create();
    xmlFile = join(env.base, "vol.xml");
    await writeFile(xmlFile, volXML({ name: "a.img" }));
  });
  afterEach(async () => {
    await env.cleanup();
  });

  async function cli(argv: string[], extraEnv: Record<string, string> = {}): Promise<Run> {
    const io = new CapturedIO({ env: { ...env.procEnv(), ...extraEnv } });
    const code = await main(argv, io, { driver: env.secrets });
    outputs.push(io.stdoutText, io.stderrText);
    return { code, out: io.stdoutText, err: io.stderrText };
  }

  it("vol-create --backend native writes the volume itself (qemu-img never runs); the native reader opens it", async () => {
    const r = await cli(["vol-create", xmlFile, "--pool", env.pool, "--generate-secret", "persistent", "--iter-time", "10", "--backend", "native"]);
    expect(r).to.deep.equal({ code: 0, out: `Vol a.img created from ${xmlFile}\n\n`, err: "" });
    expect(await env.log()).to.deep.equal([]);
    const uuid = env.secrets.listSecrets(10)[0]!;
    const vol = await openNativeVolume(join(env.pool, "a.img"), await env.secrets.elevated().getValue(uuid));
    try {
      expect(vol.encrypted).to.equal(true);
      expect(vol.capacity).to.equal(16n * 1024n * 1024n);
    } finally {
      await vol.close();
    }
    expect(await cli(["vol-create", xmlFile, "--pool", env.pool, "--backend", "qemu"])).to.deep.equal({
      code: 1,
      out: "\n",
      err: "error: invalid --backend 'qemu': expected qemu-img or native\n",
    });
  });

  it("create, list, info, dumpxml, key-check, delete with virsh's texts", async () => {
    const path = join(env.pool, "a.img");
    let r = await cli(["vol-create", xmlFile, "--pool", env.pool, "--generate-secret", "persistent", "--iter-time", "10"]);
    expect(r).to.deep.equal({ code: 0, out: `Vol a.img created from ${xmlFile}\n\n`, err: "" });
    const run = (await env.log())[0]!;
    expect(run.argv[run.argv.indexOf("-o") + 1]).to.equal("key-secret=a.img_encrypt0,iter-time=10");
    const uuid = env.secrets.listSecrets(10)[0]!;
    const value = Buffer.from(await env.secrets.elevated().getValue(uuid)).toString("latin1");

    r = await cli(["vol-list", "--pool", env.pool]);
    const w = path.length;
    expect(r.out).to.equal(` Name    Path\n${"-".repeat(8 + w + 3)}\n a.img   ${path}\n\n`);
    r = await cli(["-q", "vol-list", "--pool", env.pool]);
    expect(r.out).to.equal(` a.img   ${path}\n`);

    r = await cli(["vol-info", "a.img", "--pool", env.pool]);
    expect(r.code).to.equal(0);
    expect(r.out).to.match(/^Name:           a\.img\nType:           file\nCapacity:       16\.00 MiB\nAllocation:     [0-9]+\.[0-9]{2} (B|KiB|MiB)\n\n$/);
    // by path too
    expect((await cli(["vol-info", path, "--pool", env.pool])).out).to.equal(r.out);

    r = await cli(["vol-dumpxml", "--vol", "a.img", "--pool", env.pool]);
    expect(r.out).to.contain(`<secret type='passphrase' uuid='${uuid}'/>`);
    expect(r.out.endsWith("</volume>\n\n")).to.equal(true);

    r = await cli(["vol-key-check", "a.img", "--pool", env.pool]);
    expect(r).to.deep.equal({ code: 0, out: `Vol a.img opens with secret ${uuid}\n\n`, err: "" });
    await env.secrets.lookupByUUID(uuid).setValue(new TextEncoder().encode("other"));
    r = await cli(["vol-key-check", "a.img", "--pool", env.pool]);
    expect(r).to.deep.equal({
      code: 1,
      out: "\n",
      err: `error: secret ${uuid} does not open vol a.img: Invalid password, cannot unlock any keyslot\n`,
    });

    r = await cli(["vol-delete", "a.img", "--pool", env.pool]);
    expect(r).to.deep.equal({ code: 0, out: "Vol a.img deleted\n\n", err: "" });
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
    expect(value).to.match(/^[0-9a-f]{64}$/);
    // the generated passphrase was never printed, and nothing passphrase-shaped was
    expect(outputs.length).to.be.greaterThan(10);
    for (const o of outputs) expect(o).to.not.match(/[0-9a-f]{64}/);
  });

  it("errors: libvirt's create error, unknown vol, bad options, -q", async () => {
    await writeFile(join(env.base, "nosecret.xml"), volXML({ name: "n.img" }));
    let r = await cli(["vol-create", join(env.base, "nosecret.xml"), "--pool", env.pool]);
    expect(r).to.deep.equal({
      code: 1,
      out: "\n",
      err: `error: Failed to create vol from ${join(env.base, "nosecret.xml")}\n` +
        "error: invalid argument: A single <secret type='passphrase'...> element is expected in encryption description\n",
    });
    r = await cli(["vol-info", "nope", "--pool", env.pool]);
    expect(r.err).to.equal("error: failed to get vol 'nope'\nerror: Storage volume not found: no storage vol with matching name 'nope'\n");
    r = await cli(["vol-delete", "/elsewhere/x", "--pool", env.pool]);
    expect(r.err).to.equal("error: failed to get vol '/elsewhere/x'\nerror: Storage volume not found: no storage vol with matching path '/elsewhere/x'\n");
    r = await cli(["vol-create", join(env.base, "missing.xml"), "--pool", env.pool]);
    expect(r.err).to.equal(`error: Failed to open file '${join(env.base, "missing.xml")}': No such file or directory\n`);
    r = await cli(["vol-create", xmlFile, "--pool", env.pool, "--generate-secret", "sometimes"]);
    expect(r.err).to.equal("error: invalid --generate-secret 'sometimes': expected persistent or ephemeral\n");
    r = await cli(["vol-create", xmlFile, "--pool", env.pool, "--key-id", "k"]);
    expect(r.err).to.equal("error: --key-id needs --keystore\n");
    r = await cli(["vol-create", xmlFile, "--pool", env.pool, "--private"]);
    expect(r.err).to.equal("error: --private needs --generate-secret or --key-id\n");
    r = await cli(["vol-list", "--pool", join(env.base, "no-such-pool")]);
    expect(r.code).to.equal(1);
    expect(r.err).to.equal(`error: failed to open pool ${join(env.base, "no-such-pool")}\nerror: cannot open directory '${join(env.base, "no-such-pool")}': No such file or directory\n`);
    r = await cli(["vol-create"]);
    expect(r).to.deep.equal({ code: 1, out: "", err: "error: command 'vol-create' requires <file> option\n" });
    r = await cli(["-q", "vol-create", xmlFile, "--pool", env.pool, "--generate-secret", "persistent"]);
    expect(r).to.deep.equal({ code: 0, out: "", err: "" });
    expect(await env.state()).to.deep.include({ files: ["a.img"], pending: [] });
  });

  it("default pool: $VIRSECRET_POOL, else <root>/pool", async () => {
    let r = await cli(["vol-create", xmlFile, "--generate-secret", "ephemeral", "--private"], { VIRSECRET_POOL: env.pool });
    expect(r.code, r.err).to.equal(0);
    expect(await env.poolFiles()).to.deep.equal(["a.img"]);
    r = await cli(["vol-create", xmlFile, "--generate-secret", "persistent"]);
    expect(r.code, r.err).to.equal(0);
    r = await cli(["-q", "vol-list"]);
    expect(r.out).to.equal(` a.img   ${join(env.root, "pool", "a.img")}\n`);
  });

  it("BYOK through --keystore, --user, --project, --key-id; vol-delete removes the clone", async () => {
    const ks = env.local();
    const ctx = { user: "alice", project: "pa" };
    const original = await ks.createKey(ctx);
    const conf = join(env.base, "ks.xml");
    await writeFile(conf, "<keystore type='local'/>");
    const ksArgs = ["--keystore", conf, "--user", "alice", "--project", "pa"];
    let r = await cli(["vol-create", xmlFile, "--pool", env.pool, "--key-id", original, ...ksArgs]);
    expect(r).to.deep.equal({ code: 0, out: `Vol a.img created from ${xmlFile}\n\n`, err: "" });
    const keys = (await ks.listKeys(ctx)).map((k) => k.id);
    expect(keys).to.have.length(2);
    r = await cli(["vol-delete", "a.img", "--pool", env.pool]);
    expect(r.code).to.equal(1);
    expect(r.err).to.match(/^error: Failed to delete vol a\.img\nerror: Requested operation is not valid: volume 'a\.img' owns keystore key .*: deleting it needs the keystore\n$/);
    r = await cli(["vol-delete", "a.img", "--pool", env.pool, ...ksArgs]);
    expect(r).to.deep.equal({ code: 0, out: "Vol a.img deleted\n\n", err: "" });
    expect((await ks.listKeys(ctx)).map((k) => k.id)).to.deep.equal([original]);
    // another tenant's key id: the keystore's "not found", nothing made
    r = await cli(["vol-create", xmlFile, "--pool", env.pool, "--key-id", original, "--keystore", conf, "--user", "bob", "--project", "pb"]);
    expect(r.err).to.equal(`error: Failed to create vol from ${xmlFile}\nerror: Key not found, uuid: ${original}\n`);
    expect(await env.state()).to.deep.equal({ files: [], secrets: [], volumes: [], pending: [], secretFiles: [] });
  });

  it("vol-info sizes as virsh's %.2lf with vshPrettyCapacity units", () => {
    expect(prettyCapacity(0n)).to.equal("0.00 B");
    expect(prettyCapacity(1023n)).to.equal("1023.00 B");
    expect(prettyCapacity(1024n)).to.equal("1.00 KiB");
    expect(prettyCapacity(1152n)).to.equal("1.12 KiB"); // 1.125: printf rounds half to even
    expect(prettyCapacity(1178n)).to.equal("1.15 KiB");
    expect(prettyCapacity(16n * 1024n * 1024n)).to.equal("16.00 MiB");
    expect(prettyCapacity(3n * 1024n ** 4n + 1024n ** 3n / 2n)).to.equal("3.00 TiB");
    expect(prettyCapacity((1n << 63n) - 1n)).to.equal("8.00 EiB");
  });
});
