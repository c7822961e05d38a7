// wrap-master-key, rekey on a wrapped root, commands opening a wrapped root
// through the keystore file its master.key.wrapped records, and export-libvirt
// of key-bound secrets (definition only, never the keystore's value), in-process
// with exact output bytes.
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openLocalKeystore } from "../../../src/keystore/local.js";
import { runCli, scratch } from "./run.js";

const U = "6a0a3b8e-9f1d-4c2e-8b7a-1c2d3e4f5a6b";
const U2 = "7b1b4c9f-0a2e-4d3f-9c8b-2d3e4f5a6b7c";
const ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("cli: wrap-master-key, wrapped roots, export of bound secrets (in-process)", function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  let root: string;
  let uri: string;
  let ks: string;
  let keysRoot: string;
  const ops = ["--user", "ops", "--project", "infra"];
  const v = (...args: string[]) => runCli(["-c", uri, ...args]);
  const vq = (...args: string[]) => runCli(["-q", "-c", uri, ...args]);
  const file = (name: string, content: string): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };

  beforeEach(() => {
    ({ dir, cleanup } = scratch("virsecret-cli-mk-"));
    root = join(dir, "host-a");
    uri = `secret:///embed?root=${root}`;
    keysRoot = join(dir, "keys");
    ks = file("ks.xml", `<keystore type='local'>\n  <root>${keysRoot}</root>\n</keystore>\n`);
  });
  afterEach(() => cleanup());

  /** a root with one valued secret, and a KEK in the keystore */
  async function setup(): Promise<string> {
    const x = file("s.xml", `<secret ephemeral='no' private='no'><uuid>${U}</uuid><usage type='volume'><volume>/v/a</volume></usage></secret>`);
    expect((await vq("secret-define", x)).code).to.equal(0);
    expect((await vq("secret-set-value", U, "--file", file("val", "d3JhcHBlZC12YWx1ZQ=="))).code).to.equal(0);
    const k = await vq("key-create", "--keystore", ks, ...ops);
    expect(k.err).to.equal("");
    return k.out.trim();
  }

  it("wraps: prints one line, removes master.key, and every later command opens the root by itself", async () => {
    const kek = await setup();
    expect(kek).to.match(ID_RE);
    const oldKey = readFileSync(join(root, "master.key"));
    const w = await v("wrap-master-key", "--keystore", ks, "--key-id", kek, ...ops);
    expect(w).to.deep.include({ code: 0, err: "", out: `Master key of secret root '${root}' wrapped by keystore key ${kek}\n\n` });
    expect(existsSync(join(root, "master.key"))).to.equal(false);
    const doc = JSON.parse(readFileSync(join(root, "master.key.wrapped"), "utf8")) as Record<string, unknown>;
    expect(doc).to.deep.include({ keyId: kek, keystore: ks, context: { user: "ops", project: "infra" } });
    expect(await v("secret-get-value", U)).to.deep.include({ code: 0, err: "", out: "d3JhcHBlZC12YWx1ZQ==\n" });
    // rekey keeps the KEK, changes the master key
    const before = readFileSync(join(root, "master.key.wrapped"), "utf8");
    expect(await v("rekey")).to.deep.include({ code: 0, err: "", out: "Secret store rekeyed\n\n" });
    expect(readFileSync(join(root, "master.key.wrapped"), "utf8")).to.not.equal(before);
    expect((await vq("secret-get-value", U)).out).to.equal("d3JhcHBlZC12YWx1ZQ==");
    // the KEK's own keystore is opened once per run: key-* on it work on the wrapped root (one LevelDB lock)
    const list = await vq("key-list", "--keystore", ks, ...ops);
    expect(list.code, list.err).to.equal(0);
    expect(list.out).to.include(kek);
    // no file under the root holds the old key
    for (const f of walk(root)) expect(readFileSync(f).indexOf(oldKey), f).to.equal(-1);
  });

  it("without its keystore file the root does not open; with the file back it does", async () => {
    const kek = await setup();
    expect((await vq("wrap-master-key", "--keystore", ks, "--key-id", kek, ...ops)).code).to.equal(0);
    renameSync(ks, ks + ".moved");
    const r = await v("secret-list");
    expect(r.code).to.equal(1);
    expect(r.err).to.equal(
      "error: failed to connect to the hypervisor\n" +
        `error: operation failed: cannot open keystore '${ks}' for the master key of secret root '${root}': cannot read keystore configuration '${ks}': ENOENT\n`,
    );
    renameSync(ks + ".moved", ks);
    expect((await vq("secret-list")).out).to.include(U);
  });

  it("refuses: missing options, a keystore inside the root, an unknown key (root unchanged), a key of the wrong size", async () => {
    const kek = await setup();
    expect(await v("wrap-master-key", "--key-id", kek)).to.deep.include({ code: 1, err: "error: command 'wrap-master-key' requires --keystore option\n" });
    expect(await v("wrap-master-key", "--keystore", ks)).to.deep.include({ code: 1, err: "error: command 'wrap-master-key' requires --key-id option\n" });
    const inside = file("inside.xml", "<keystore type='local'/>\n");
    expect(await v("wrap-master-key", "--keystore", inside, "--key-id", kek, ...ops)).to.deep.include({
      code: 1,
      err: `error: keystore ${inside} keeps its keys inside secret root '${root}'; the key wrapping that root's master key must live elsewhere\n`,
    });
    const same = file("same.xml", `<keystore type='local'><root>${root}</root></keystore>\n`);
    expect((await v("wrap-master-key", "--keystore", same, "--key-id", kek, ...ops)).err).to.match(/keeps its keys inside secret root/);
    const missing = "00000000-0000-4000-8000-000000000000";
    const m = await v("wrap-master-key", "--keystore", ks, "--key-id", missing, ...ops);
    expect(m.code).to.equal(1);
    expect(m.err).to.equal(
      `error: Failed to wrap the master key of secret root '${root}'\n` +
        `error: operation failed: cannot get keystore key ${missing} for the master key of secret root '${root}': Key not found, uuid: ${missing}\n`,
    );
    const short = await vq("key-create", "--keystore", ks, ...ops, "--length", "128");
    const s = await v("wrap-master-key", "--keystore", ks, "--key-id", short.out.trim(), ...ops);
    expect(s.err).to.include("it is 16 bytes, a 32-byte (256-bit) key is needed");
    expect(existsSync(join(root, "master.key"))).to.equal(true);
    expect(existsSync(join(root, "master.key.wrapped"))).to.equal(false);
    expect(existsSync(join(root, "master.key.wrapped.rekey"))).to.equal(false);
    expect((await vq("secret-get-value", U)).out).to.equal("d3JhcHBlZC12YWx1ZQ==");
  });

  it("help lists wrap-master-key in the store group", async () => {
    const h = await runCli(["help", "store"]);
    expect(h.out).to.include("    wrap-master-key                keep the master key only wrapped by a keystore key\n");
  });

  it("export-libvirt writes a bound secret's definition without its value, and does not fail once the key is deleted", async () => {
    await setup();
    const x2 = file("s2.xml", `<secret ephemeral='no' private='yes'><uuid>${U2}</uuid></secret>`);
    expect((await vq("secret-define", x2)).code).to.equal(0);
    const keyId = (await vq("key-create", "--keystore", ks, ...ops)).out.trim();
    expect((await vq("secret-bind-key", U2, keyId, "--keystore", ks, ...ops)).code).to.equal(0);
    const out = join(dir, "libvirt-secrets");
    const e = await v("export-libvirt", out);
    expect(e.code, e.err).to.equal(0);
    expect(e.out.split("\n").filter(Boolean).sort()).to.deep.equal(
      [`Secret ${U} exported with value`, `Secret ${U2} exported without value: bound to keystore key ${keyId}, value not exported`].sort(),
    );
    expect(readdirSync(out).sort()).to.deep.equal([`${U}.base64`, `${U}.xml`, `${U2}.xml`].sort());
    // the keystore's key is nowhere in the export, in any encoding the value could take
    const km = await openLocalKeystore({ root: keysRoot });
    let key: Buffer;
    try {
      key = Buffer.from((await km.getKey({ user: "ops", project: "infra" }, keyId)).value!);
      await km.deleteKey({ user: "ops", project: "infra" }, keyId);
    } finally {
      await km.close();
    }
    for (const f of walk(out)) {
      const bytes = readFileSync(f);
      for (const n of [key, Buffer.from(key.toString("hex")), Buffer.from(key.toString("base64")), Buffer.from(Buffer.from(key.toString("hex")).toString("base64"))]) {
        expect(bytes.indexOf(n), f).to.equal(-1);
      }
    }
    // a stale value file of the bound secret is removed; a deleted key does not fail the export
    writeFileSync(join(out, `${U2}.base64`), "c3RhbGU=");
    const again = await v("export-libvirt", out);
    expect(again.code, again.err).to.equal(0);
    expect(again.out).to.include(`Secret ${U2} exported without value: bound to keystore key ${keyId}, value not exported\n`);
    expect(existsSync(join(out, `${U2}.base64`))).to.equal(false);
  });
});

function walk(d: string): string[] {
  const out: string[] = [];
  for (const ent of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, ent.name);
    if (ent.isDirectory()) out.push(...walk(p));
    else if (ent.isFile()) out.push(p);
  }
  return out;
}
