// Generated passphrases are never printed, logged, put in an error, or left in
// a file: after successful, failing and killed creates (MOCK qemu-img), every
// file under the test's root, pool and secret-file dir, every new entry of
// os.tmpdir(), every error (message, stack, fields) and every process warning
// is searched for the known passphrases, and, where a passphrase cannot be
// known (a failed random create), for anything shaped like one.
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import type { Context } from "../../../src/keystore/key-manager.js";
import { VolEnv, filesContaining, volXML } from "./helpers.js";

const ALICE: Context = { user: "alice", project: "pa" };
const HEX64 = /[0-9a-f]{64}/;

describe("storage/volume-driver: generated passphrases never leak", () => {
  let env: VolEnv;
  beforeEach(async () => {
    env = await VolEnv.create();
  });
  afterEach(async () => {
    await env.cleanup();
  });

  it("not in files, temp dirs, errors or warnings", async function () {
    this.timeout(30_000);
    const tmpBefore = new Set(await readdir(tmpdir()));
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(`${w.name} ${w.message} ${w.stack ?? ""}`);
    process.on("warning", onWarning);
    const errors: string[] = [];
    const keep = (e: unknown): void => void errors.push(`${(e as Error).message}\n${(e as Error).stack}\n${JSON.stringify(e)}`);
    const known: Buffer[] = [];
    try {
      const ks = env.local();
      // 1. a successful random create, key check, and an XML dump
      const vd = await env.open();
      await vd.createXML(volXML({ name: "ok.img" }), { generateSecret: "persistent" });
      const rec = (await vd.record("ok.img"))!;
      known.push(Buffer.from(await env.secrets.elevated().getValue(rec.secretUuid!)));
      await vd.keyCheck("ok.img");
      errors.push(await vd.getXMLDesc("ok.img"));
      // 2. BYOK with qemu-img failing: the passphrase is the hex of the user's key
      const original = await ks.createKey(ALICE);
      known.push(Buffer.from(Buffer.from((await ks.getKey(ALICE, original)).value!).toString("hex"), "latin1"));
      const failing = await env.open({ keystore: ks, keystoreContext: ALICE, env: env.procEnv("fail") });
      await failing.createXML(volXML({ name: "byok.img" }), { keyId: original }).catch(keep);
      // 3. random creates that fail and that are killed: passphrases never seen by anyone
      await failing.createXML(volXML({ name: "f.img" }), { generateSecret: "persistent" }).catch(keep);
      const killed = await env.open({ env: env.procEnv("kill") });
      await killed.createXML(volXML({ name: "k.qcow2", format: "qcow2" }), { generateSecret: "ephemeral" }).catch(keep);
      // 4. a wrong passphrase at key check
      await env.secrets.lookupByUUID(rec.secretUuid!).setValue(new TextEncoder().encode("changed"));
      const r = await vd.keyCheck("ok.img");
      expect(r.ok).to.equal(false);
      errors.push(JSON.stringify(r));
    } finally {
      process.off("warning", onWarning);
    }
    expect(errors.length).to.be.greaterThan(3);
    const newTmp = (await readdir(tmpdir())).filter((n) => !tmpBefore.has(n)).map((n) => join(tmpdir(), n));

    for (const p of known) {
      expect(p.length).to.equal(64);
      for (const dir of [env.base, ...newTmp]) expect(await filesContaining(dir, p), `in files under ${dir}`).to.deep.equal([]);
      for (const text of [...errors, ...warnings]) expect(text).to.not.contain(p.toString("latin1"));
    }
    // nothing passphrase-shaped where no passphrase belongs (the store and the
    // mock's volume files hold sha256 digests, so they are covered by the exact search above)
    for (const text of [...errors, ...warnings]) expect(text).to.not.match(HEX64);
    for (const dir of [env.secretDir, env.mockDir, ...newTmp.filter((d) => !d.startsWith(env.base))]) {
      for (const f of await filesUnder(dir)) {
        const { readFile } = await import("node:fs/promises");
        expect((await readFile(f)).toString("latin1"), f).to.not.match(HEX64);
      }
    }
    expect(await readdir(env.secretDir)).to.deep.equal([]);
  });
});

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesUnder(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}
