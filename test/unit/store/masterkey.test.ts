import { expect } from "chai";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { isVirError } from "../../../src/errors.js";
import { SecretStore, WrongMasterKeyError } from "../../../src/store/db.js";
import { CREDENTIAL_NAME, generateMasterKey, loadMasterKey } from "../../../src/store/masterkey.js";
import { cleanupRoots, freshRoot } from "./helpers.js";

async function openError(p: Promise<unknown>): Promise<{ codeName: string; message: string }> {
  try {
    const s = await p;
    await (s as SecretStore).close();
  } catch (e) {
    expect(isVirError(e), `expected VirError, got ${String(e)}`).to.equal(true);
    return e as { codeName: string; message: string };
  }
  throw new Error("open succeeded but should have failed");
}

function keyFile(dir: string, name: string, bytes: Uint8Array, mode: number): string {
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, name);
  writeFileSync(f, bytes, { mode });
  chmodSync(f, mode);
  return f;
}

describe("store/masterkey", () => {
  let savedCred: string | undefined;
  beforeEach(() => {
    savedCred = process.env.CREDENTIALS_DIRECTORY;
    delete process.env.CREDENTIALS_DIRECTORY;
  });
  afterEach(() => {
    if (savedCred === undefined) delete process.env.CREDENTIALS_DIRECTORY;
    else process.env.CREDENTIALS_DIRECTORY = savedCred;
    cleanupRoots();
  });

  it("generateMasterKey gives 32 fresh random bytes", () => {
    const a = generateMasterKey();
    const b = generateMasterKey();
    expect(a.length).to.equal(32);
    expect(Buffer.from(a).equals(Buffer.from(b))).to.equal(false);
  });

  it("uses a 0600 key file and keeps the caller's key intact", async () => {
    const root = freshRoot();
    const bytes = generateMasterKey();
    const file = keyFile(path.dirname(root), "k.bin", bytes, 0o600);
    const s = await SecretStore.open({ root, masterKey: { file } });
    expect(s.masterKeySource).to.deep.equal({ source: "file", path: file });
    await s.batch([{ type: "put", space: "secrets", key: "a", data: 1, secret: new Uint8Array([5]) }]);
    await s.close();
    expect(existsSync(path.join(root, "master.key"))).to.equal(false);
    // The same bytes given directly open it; the caller's array is not zeroed by close.
    const given = new Uint8Array(bytes);
    const t = await SecretStore.open({ root, masterKey: { key: given } });
    expect(Array.from((await t.get("secrets", "a"))!.secret!)).to.deep.equal([5]);
    await t.close();
    expect(Buffer.from(given).equals(Buffer.from(bytes))).to.equal(true);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    it(`refuses a key file with mode 0${mode.toString(8)}, naming file and mode`, async () => {
      const root = freshRoot();
      const file = keyFile(path.dirname(root), "k.bin", generateMasterKey(), mode);
      const e = await openError(SecretStore.open({ root, masterKey: { file } }));
      expect(e.codeName).to.equal("INVALID_ARG");
      expect(e.message).to.equal(
        `invalid argument: master key file '${file}' is accessible by group or others (mode 0${mode.toString(8)}); restrict it to its owner (chmod 600)`,
      );
      // Nothing left held: a correct open of the same root works.
      chmodSync(file, 0o400);
      const s = await SecretStore.open({ root, masterKey: { file } });
      await s.close();
    });
  }

  for (const len of [0, 16, 31, 33, 64]) {
    it(`refuses a ${len}-byte key file with libvirt 12's message`, async () => {
      const root = freshRoot();
      const file = keyFile(path.dirname(root), "k.bin", new Uint8Array(len).fill(1), 0o600);
      const e = await openError(SecretStore.open({ root, masterKey: { file } }));
      expect(e.message).to.equal(`Invalid secret: Encryption key length must be '32' '${file}'`);
    });
  }

  it("refuses a missing key file and a key of the wrong length given directly", async () => {
    const root = freshRoot();
    const file = path.join(path.dirname(root), "absent.key");
    const e = await openError(SecretStore.open({ root, masterKey: { file } }));
    expect(e.codeName).to.equal("SYSTEM_ERROR");
    expect(e.message).to.equal(`Failed to open file '${file}': No such file or directory`);
    const f = await openError(SecretStore.open({ root, masterKey: { key: new Uint8Array(31) } }));
    expect(f.message).to.equal("invalid argument: master key must be 32 bytes, got 31");
  });

  it("detects a wrong master key at open, and a missing generated key", async () => {
    const root = freshRoot();
    const s = await SecretStore.open({ root });
    await s.batch([{ type: "put", space: "secrets", key: "a", data: 1, secret: new Uint8Array([1]) }]);
    await s.close();
    const e = await openError(SecretStore.open({ root, masterKey: { key: new Uint8Array(32) } }));
    expect(e.codeName).to.equal("OPERATION_FAILED");
    expect(e.message).to.equal(
      `operation failed: wrong master key for secret store '${root}': the key given in the options does not open its key-check record`,
    );
    const own = path.join(root, "master.key");
    const saved = readFileSync(own);
    writeFileSync(own, new Uint8Array(32).fill(9));
    const g = await openError(SecretStore.open({ root }));
    expect(g.message).to.equal(`operation failed: wrong master key for secret store '${root}': key file '${own}' does not open its key-check record`);
    // typed, so callers need not match the text
    expect(e).to.be.instanceOf(WrongMasterKeyError);
    expect(g).to.be.instanceOf(WrongMasterKeyError);
    expect((g as WrongMasterKeyError).reason).to.equal("wrong-key");
    // A lost generated key is never silently replaced by a new one.
    unlinkSync(own);
    const h = await openError(SecretStore.open({ root }));
    expect(h.message).to.match(/^operation failed: no master key for secret store '.*': '.*master\.key' is missing/);
    expect(existsSync(own)).to.equal(false);
    writeFileSync(own, saved, { mode: 0o600 });
    const ok = await SecretStore.open({ root });
    expect(Array.from((await ok.get("secrets", "a"))!.secret!)).to.deep.equal([1]);
    await ok.close();
  });

  it("refuses the generated root key file once it is opened up to group/others", async () => {
    const root = freshRoot();
    await (await SecretStore.open({ root })).close();
    chmodSync(path.join(root, "master.key"), 0o644);
    const e = await openError(SecretStore.open({ root }));
    expect(e.message).to.match(/master key file '.*master\.key' is accessible by group or others \(mode 0644\)/);
  });

  it("uses $CREDENTIALS_DIRECTORY/secrets-encryption-key when set, and generates nothing", async () => {
    const root = freshRoot();
    const credDir = path.join(path.dirname(root), "creds");
    const bytes = generateMasterKey();
    const cred = keyFile(credDir, CREDENTIAL_NAME, bytes, 0o400);
    process.env.CREDENTIALS_DIRECTORY = credDir;
    const s = await SecretStore.open({ root });
    expect(s.masterKeySource).to.deep.equal({ source: "credential", path: cred });
    await s.batch([{ type: "put", space: "secrets", key: "a", data: 1, secret: new Uint8Array([42]) }]);
    await s.close();
    expect(existsSync(path.join(root, "master.key"))).to.equal(false);
    // The values are sealed under the credential's key: it opens them, nothing else does.
    const t = await SecretStore.open({ root, masterKey: { key: bytes } });
    expect(Array.from((await t.get("secrets", "a"))!.secret!)).to.deep.equal([42]);
    await t.close();
    delete process.env.CREDENTIALS_DIRECTORY;
    const e = await openError(SecretStore.open({ root }));
    expect(e.message).to.match(/no master key for secret store/);
    // A wrong-length credential is refused like libvirt 12 refuses it.
    writeFileSync(cred, new Uint8Array(10));
    process.env.CREDENTIALS_DIRECTORY = credDir;
    const f = await openError(SecretStore.open({ root }));
    expect(f.message).to.equal(`Invalid secret: Encryption key length must be '32' '${cred}'`);
  });

  it("an empty CREDENTIALS_DIRECTORY (no credential file) falls through to ROOT/master.key", async () => {
    const root = freshRoot();
    const credDir = path.join(path.dirname(root), "creds");
    mkdirSync(credDir);
    process.env.CREDENTIALS_DIRECTORY = credDir;
    const s = await SecretStore.open({ root });
    expect(s.masterKeySource.source).to.equal("generated");
    await s.close();
    expect(statSync(path.join(root, "master.key")).mode & 0o777).to.equal(0o600);
  });

  it("loadMasterKey: explicit key beats key file beats credential beats root file", async () => {
    const root = freshRoot();
    mkdirSync(root, { recursive: true });
    const credDir = path.join(path.dirname(root), "creds");
    keyFile(credDir, CREDENTIAL_NAME, new Uint8Array(32).fill(3), 0o400);
    const file = keyFile(path.dirname(root), "k.bin", new Uint8Array(32).fill(2), 0o600);
    const env = { CREDENTIALS_DIRECTORY: credDir };
    const direct = await loadMasterKey({ key: new Uint8Array(32).fill(1), file }, root, { env });
    expect([direct.source, direct.key[0]]).to.deep.equal(["option", 1]);
    const fromFile = await loadMasterKey({ file }, root, { env });
    expect([fromFile.source, fromFile.key[0]]).to.deep.equal(["file", 2]);
    const fromCred = await loadMasterKey(undefined, root, { env });
    expect([fromCred.source, fromCred.key[0]]).to.deep.equal(["credential", 3]);
    const gen = await loadMasterKey(undefined, root, { env: {}, generate: true });
    expect(gen.source).to.equal("generated");
    const again = await loadMasterKey(undefined, root, { env: {} });
    expect(again.source).to.equal("root-file");
    expect(Buffer.from(again.key).equals(Buffer.from(gen.key))).to.equal(true);
  });
});
