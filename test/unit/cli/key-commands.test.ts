// The keystore commands in-process with exact output bytes: key-* against a
// local keystore configured by a <keystore> file, and secret-bind-key /
// secret-unbind-key on two roots sharing that keystore.
import { expect } from "chai";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { openLocalKeystore } from "../../../src/keystore/local.js";
import { runCli, scratch } from "./run.js";

const U = "6a0a3b8e-9f1d-4c2e-8b7a-1c2d3e4f5a6b";
const ID_RE = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

describe("cli: keystore commands (in-process)", function () {
  let dir: string;
  let cleanup: () => void;
  let uriA: string;
  let uriB: string;
  let ks: string;
  let keysRoot: string;
  const file = (name: string, content: string | Buffer): string => {
    const p = join(dir, name);
    writeFileSync(p, content);
    return p;
  };
  const alice = ["--user", "alice", "--project", "tenant-a"];
  const a = (...args: string[]) => runCli(["-c", uriA, ...args]);
  const aq = (...args: string[]) => runCli(["-q", "-c", uriA, ...args]);
  const b = (...args: string[]) => runCli(["-c", uriB, ...args]);

  beforeEach(() => {
    ({ dir, cleanup } = scratch("virsecret-cli-keys-"));
    uriA = `secret:///embed?root=${join(dir, "host-a")}`;
    uriB = `secret:///embed?root=${join(dir, "host-b")}`;
    keysRoot = join(dir, "keys");
    ks = file("ks.xml", `<keystore type='local'>\n  <root>${keysRoot}</root>\n</keystore>\n`);
  });
  afterEach(() => cleanup());

  /** key-store a known value; returns its id. */
  const storeKnown = async (value: Buffer, extra: string[] = []): Promise<string> => {
    const f = file(`k-${randomBytes(4).toString("hex")}.b64`, value.toString("base64") + "\n");
    const r = await aq("key-store", "--keystore", ks, ...alice, "--file", f, ...extra);
    expect(r.err).to.equal("");
    expect(r.code).to.equal(0);
    expect(r.out).to.match(new RegExp(`^${ID_RE.source}\\n$`));
    return r.out.trim();
  };

  it("key-create prints the new id in a sentence, or alone with -q; the key is a 256-bit AES key", async () => {
    const r = await a("key-create", "--keystore", ks, ...alice, "--name", "disk-a");
    expect(r.err).to.equal("");
    expect(r.code).to.equal(0);
    const m = new RegExp(`^Key (${ID_RE.source}) created\\n\\n$`).exec(r.out);
    expect(m, r.out).to.not.equal(null);
    const q = await aq("key-create", "--keystore", ks, ...alice, "--length", "128");
    expect(q.out).to.match(new RegExp(`^${ID_RE.source}\\n$`));
    const km = await openLocalKeystore({ root: keysRoot });
    try {
      const k1 = await km.getKey({ project: "tenant-a" }, m![1]!);
      expect(k1).to.include({ kind: "symmetric", algorithm: "AES", bitLength: 256, name: "disk-a" });
      expect(k1.value!.length).to.equal(32);
      const k2 = await km.getKey({ project: "tenant-a" }, q.out.trim());
      expect(k2.bitLength).to.equal(128);
    } finally {
      await km.close();
    }
  });

  it("key-store --file (base64) then key-get prints base64, --plain the raw bytes", async () => {
    const value = randomBytes(32);
    const id = await storeKnown(value);
    const g = await a("key-get", id, "--keystore", ks, ...alice);
    expect(g).to.deep.include({ code: 0, err: "", out: value.toString("base64") + "\n" });
    const p = await aq("key-get", id, "--keystore", ks, ...alice, "--plain");
    expect(p.code).to.equal(0);
    expect(p.outBytes.equals(value)).to.equal(true);
    // a raw file with --plain, as a passphrase
    const pf = file("pass.txt", "open sesame");
    const s = await a("key-store", "--keystore", ks, ...alice, "--file", pf, "--plain", "--kind", "passphrase");
    const pid = new RegExp(`^Key (${ID_RE.source}) stored\\n\\n$`).exec(s.out)![1]!;
    expect((await aq("key-get", pid, "--keystore", ks, ...alice, "--plain")).out).to.equal("open sesame");
  });

  it("key-copy gives a new id with the same bytes; key-delete removes only the one named", async () => {
    const value = randomBytes(32);
    const id = await storeKnown(value);
    const c = await a("key-copy", id, "--keystore", ks, ...alice);
    const copy = new RegExp(`^Key ${id} copied to (${ID_RE.source})\\n\\n$`).exec(c.out)![1]!;
    expect(copy).to.not.equal(id);
    expect((await aq("key-get", copy, "--keystore", ks, ...alice)).out).to.equal(value.toString("base64"));
    const d = await a("key-delete", id, "--keystore", ks, ...alice);
    expect(d).to.deep.include({ code: 0, err: "", out: `Key ${id} deleted\n\n` });
    const gone = await a("key-get", id, "--keystore", ks, ...alice);
    expect(gone).to.deep.include({ code: 1, out: "\n", err: `error: Failed to get key ${id}\nerror: Key not found, uuid: ${id}\n` });
    expect((await aq("key-get", copy, "--keystore", ks, ...alice)).out).to.equal(value.toString("base64"));
  });

  it("another tenant's key reads exactly like an absent one", async () => {
    const id = await storeKnown(randomBytes(32));
    const absent = "0b5e7a1c-3a57-4b55-9d7e-2f7e0c0d9a11";
    for (const cmd of ["key-get", "key-delete", "key-copy"]) {
      const foreign = await a(cmd, id, "--keystore", ks, "--user", "bob", "--project", "tenant-b");
      const none = await a(cmd, absent, "--keystore", ks, "--user", "bob", "--project", "tenant-b");
      expect(foreign.code).to.equal(1);
      expect(foreign.err.replaceAll(id, "ID")).to.equal(none.err.replaceAll(absent, "ID"));
    }
    const list = await aq("key-list", "--keystore", ks, "--user", "bob", "--project", "tenant-b");
    expect(list).to.deep.include({ code: 0, out: "", err: "" });
  });

  it("key-list prints a vsh table of metadata, filtered by kind and name", async () => {
    const sym = await storeKnown(randomBytes(32), ["--name", "disk-a"]);
    const pass = await storeKnown(Buffer.from("pw"), ["--kind", "passphrase"]);
    const km = await openLocalKeystore({ root: keysRoot });
    let created: Record<string, string>;
    try {
      const all = await km.listKeys({ project: "tenant-a" }, { metadataOnly: true });
      created = Object.fromEntries(all.map((k) => [k.id, new Date(k.created * 1000).toISOString().slice(0, 19).replace("T", " ")]));
    } finally {
      await km.close();
    }
    // widths: ID 36, Kind 10 ("passphrase"), Algorithm 9, Bits 4, Name 6 ("disk-a"), Created 19
    const header = " ID" + " ".repeat(36) + " Kind" + " ".repeat(8) + " Algorithm" + "  " + " Bits" + "  " + " Name" + "    " + " Created\n";
    const dashes = "-".repeat(39 + 13 + 12 + 7 + 9 + 22) + "\n";
    const line: Record<string, string> = {
      [sym]: ` ${sym}   symmetric    AES         256    disk-a   ${created[sym]}\n`,
      [pass]: ` ${pass}   passphrase   -           -      -        ${created[pass]}\n`,
    };
    const sorted = [sym, pass].sort();
    const r = await a("key-list", "--keystore", ks, ...alice);
    expect(r).to.deep.include({ code: 0, err: "", out: header + dashes + sorted.map((id) => line[id]).join("") + "\n" });
    const onlyPass = await aq("key-list", "--keystore", ks, ...alice, "--kind", "passphrase");
    expect(onlyPass.out).to.equal(` ${pass}   passphrase   -   -   -   ${created[pass]}\n`);
    const byName = await aq("key-list", "--keystore", ks, ...alice, "--name", "disk-a");
    expect(byName.out).to.equal(` ${sym}   symmetric   AES   256   disk-a   ${created[sym]}\n`);
    const bad = await a("key-list", "--keystore", ks, ...alice, "--kind", "private");
    expect(bad).to.deep.include({ code: 1, err: "error: invalid key kind 'private': expected symmetric, passphrase or opaque\n" });
  });

  it("option and configuration errors are one clear line each", async () => {
    expect(await a("key-get", "x", ...alice)).to.deep.include({ code: 1, out: "\n", err: "error: command 'key-get' requires --keystore option\n" });
    expect(await a("key-create", "--keystore", "", ...alice)).to.deep.include({
      code: 1,
      err: "error: Failed to get option 'keystore': Option argument is empty\n",
    });
    const missing = join(dir, "nope.xml");
    expect(await a("key-list", "--keystore", missing, ...alice)).to.deep.include({
      code: 1,
      err: `error: Failed to open keystore ${missing}\nerror: cannot read keystore configuration '${missing}': ENOENT\n`,
    });
    expect(await a("key-create", "--keystore", ks, ...alice, "--length", "abc")).to.deep.include({
      code: 1,
      err: "error: Numeric value 'abc' for <length> option is malformed or out of range\n",
    });
    expect(await a("key-create", "--keystore", ks, ...alice, "--length", "136")).to.deep.include({
      code: 1,
      err: "error: Failed to create key\nerror: Key manager error: invalid key length 136 for AES: expected one of 128, 192, 256, 512\n",
    });
    expect(await a("key-create", "--keystore", ks)).to.deep.include({
      code: 1,
      err: "error: Failed to create key\nerror: You are not authorized to complete this action.\n",
    });
    expect(await a("key-store", "--keystore", ks, ...alice)).to.deep.include({ code: 1, err: "error: command 'key-store' requires --file option\n" });
    const garbage = file("garbage.b64", "not base64!!");
    expect(await a("key-store", "--keystore", ks, ...alice, "--file", garbage)).to.deep.include({
      code: 1,
      err: `error: invalid argument: invalid base64 in '${garbage}'\n`,
    });
    expect(await a("key-store", "--keystore", ks, ...alice, "--file", garbage, "--kind", "opaque", "--plain", "--algorithm", "AES")).to.deep.include({
      code: 1,
      err: "error: --algorithm applies to symmetric keys only, not opaque\n",
    });
  });

  it("a local keystore without <root> lives in the connection's root", async () => {
    const inRoot = file("inroot.xml", "<keystore type='local'/>");
    const id = (await aq("key-create", "--keystore", inRoot, ...alice)).out.trim();
    expect(id).to.match(ID_RE);
    expect((await aq("key-list", "--keystore", inRoot, ...alice)).out).to.include(id);
    // another root does not have it
    const other = await runCli(["-q", "-c", uriB, "key-list", "--keystore", inRoot, ...alice]);
    expect(other.out).to.equal("");
  });

  it("secret-bind-key: two roots bound to one key read the same value; delete and unbind fail reads clearly", async () => {
    const pf = file("pass.txt", "cluster passphrase");
    const keyId = (await aq("key-store", "--keystore", ks, ...alice, "--file", pf, "--plain", "--kind", "passphrase")).out.trim();
    const xml = file("s.xml", `<secret ephemeral='no' private='no'><uuid>${U}</uuid><usage type='volume'><volume>/pool/v1</volume></usage></secret>`);
    for (const host of [a, b]) {
      expect((await host("secret-define", xml)).code).to.equal(0);
      const r = await host("secret-bind-key", U, keyId, "--keystore", ks, ...alice);
      expect(r).to.deep.include({ code: 0, err: "", out: `Secret ${U} bound to key ${keyId}\n\n` });
    }
    // every invocation reopens the root: the binding persisted and names the config file
    expect(await a("secret-get-value", U, "--plain")).to.deep.include({ code: 0, err: "", out: "cluster passphrase\n" });
    expect(await b("secret-get-value", U)).to.deep.include({ code: 0, err: "", out: Buffer.from("cluster passphrase").toString("base64") + "\n" });
    expect(await a("secret-dumpxml", U)).to.deep.include({
      code: 0,
      out: `<secret ephemeral='no' private='no'>\n  <uuid>${U}</uuid>\n  <usage type='volume'>\n    <volume>/pool/v1</volume>\n  </usage>\n</secret>\n\n`,
    });
    const setv = await a("secret-set-value", U, "--base64", "YWJj");
    expect(setv.code).to.equal(1);
    expect(setv.err).to.equal(
      "warning: Passing secret value as command-line argument is insecure!\n" +
        "error: Failed to set secret value\n" +
        `error: Requested operation is not valid: virSecretSetValue: secret '${U}' is bound to keystore key ${keyId}; its value comes from keystore '${ks}' (unbind it first)\n`,
    );
    const un = await a("secret-unbind-key", U);
    expect(un).to.deep.include({ code: 0, err: "", out: `Secret ${U} unbound from its key\n\n` });
    expect(await a("secret-get-value", U)).to.deep.include({ code: 1, err: `error: Secret not found: secret '${U}' does not have a value\n` });
    expect(await a("secret-unbind-key", U)).to.deep.include({
      code: 1,
      err: `error: Failed to unbind secret ${U}\nerror: Requested operation is not valid: secret '${U}' is not bound to a keystore key\n`,
    });
    expect((await aq("key-delete", keyId, "--keystore", ks, ...alice)).code).to.equal(0);
    expect(await b("secret-get-value", U)).to.deep.include({
      code: 1,
      out: "\n",
      err: `error: Secret not found: secret '${U}' is bound to keystore key ${keyId}, which keystore '${ks}' does not have (Key not found, uuid: ${keyId})\n`,
    });
  });

  it("secret-bind-key refuses a key the caller cannot read, and an unknown secret", async () => {
    const keyId = (await aq("key-create", "--keystore", ks, ...alice)).out.trim();
    const xml = file("s.xml", `<secret ephemeral='no' private='no'><uuid>${U}</uuid></secret>`);
    await a("secret-define", xml);
    expect(await a("secret-bind-key", U, keyId, "--keystore", ks, "--user", "bob")).to.deep.include({
      code: 1,
      err: `error: Failed to bind secret ${U} to key ${keyId}\nerror: Secret not found: secret '${U}' is bound to keystore key ${keyId}, which keystore '${ks}' does not have (Key not found, uuid: ${keyId})\n`,
    });
    const other = "7b1b4c9f-0e2d-4d3f-9c8b-2d3e4f5a6b7c";
    expect(await a("secret-bind-key", other, keyId, "--keystore", ks, ...alice)).to.deep.include({
      code: 1,
      err: `error: Failed to bind secret ${other} to key ${keyId}\nerror: Secret not found: no secret with matching uuid '${other}'\n`,
    });
    expect(await a("secret-bind-key", U, keyId, ...alice)).to.deep.include({ code: 1, err: "error: command 'secret-bind-key' requires --keystore option\n" });
  });

  it("help lists the keystore group", async () => {
    const r = await runCli(["help", "keystore"]);
    expect(r.code).to.equal(0);
    expect(r.out).to.equal(
      " Keystore (help keyword 'keystore'):\n" +
        "    key-copy                       copy a key\n" +
        "    key-create                     create a key in a keystore\n" +
        "    key-delete                     delete a key\n" +
        "    key-get                        output a key\n" +
        "    key-list                       list keys\n" +
        "    key-store                      store a key in a keystore\n" +
        "    secret-bind-key                take a secret's value from a keystore key\n" +
        "    secret-unbind-key              stop taking a secret's value from a keystore key\n" +
        "\n",
    );
  });
});
