import { expect } from "chai";
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import { fileURLToPath } from "node:url";
import { isVirError } from "../../../src/errors.js";
import { SecretStore } from "../../../src/store/db.js";
import { cleanupRoots, freshRoot } from "./helpers.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, "lock-child.ts");
const REPO = path.resolve(here, "../../..");
const KEY = new Uint8Array(32).fill(7);

function childArgs(root: string, mode: string): string[] {
  return ["--import", "tsx", CHILD, root, mode];
}

/** Run the child in "try" mode and return its one-line JSON verdict. */
function tryFromOtherProcess(root: string): { ok: boolean; code?: string; message?: string } {
  const r = spawnSync(process.execPath, childArgs(root, "try"), { cwd: REPO, encoding: "utf8", timeout: 30000 });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

class Holder {
  private lines: AsyncIterator<string>;
  constructor(readonly proc: ChildProcessWithoutNullStreams) {
    this.lines = readline.createInterface({ input: proc.stdout })[Symbol.asyncIterator]();
  }
  static async start(root: string): Promise<Holder> {
    const h = new Holder(spawn(process.execPath, childArgs(root, "hold"), { cwd: REPO }));
    const first = await h.read();
    expect(first.ready).to.equal(h.proc.pid);
    return h;
  }
  async read(): Promise<Record<string, unknown>> {
    const { value, done } = await this.lines.next();
    if (done) throw new Error("child ended early");
    return JSON.parse(value);
  }
  async send(cmd: string): Promise<Record<string, unknown>> {
    this.proc.stdin.write(cmd + "\n");
    return this.read();
  }
  kill9(): Promise<void> {
    return new Promise((resolve) => {
      this.proc.once("exit", () => resolve());
      this.proc.kill("SIGKILL");
    });
  }
}

describe("store/lock: one process per root", function () {
  this.timeout(60000);
  afterEach(cleanupRoots);

  it("a second process gets RESOURCE_BUSY naming root and pid, while the first keeps working", async () => {
    const root = freshRoot();
    const s = await SecretStore.open({ root, masterKey: { key: KEY } });
    await s.batch([{ type: "put", space: "secrets", key: "before", data: 1, secret: new Uint8Array([1]) }]);
    expect(readFileSync(path.join(root, "lock"), "utf8")).to.equal(`${process.pid}\n`);

    const verdict = tryFromOtherProcess(root);
    expect(verdict).to.deep.equal({
      ok: false,
      code: "RESOURCE_BUSY",
      message: `resource busy: Failed to acquire lock for secret root '${root}': held by pid ${process.pid}`,
    });

    // The refused opener touched nothing: the holder still reads and writes, the lock file is still ours.
    await s.batch([{ type: "put", space: "secrets", key: "after", data: 2, secret: new Uint8Array([2]) }]);
    expect(Array.from((await s.get("secrets", "before"))!.secret!)).to.deep.equal([1]);
    expect(Array.from((await s.get("secrets", "after"))!.secret!)).to.deep.equal([2]);
    expect(readFileSync(path.join(root, "lock"), "utf8")).to.equal(`${process.pid}\n`);
    await s.close();
    expect(existsSync(path.join(root, "lock"))).to.equal(false);

    // Once released, the other process gets in.
    expect(tryFromOtherProcess(root)).to.deep.equal({ ok: true });
    const again = await SecretStore.open({ root, masterKey: { key: KEY } });
    expect(Array.from((await again.get("secrets", "after"))!.secret!)).to.deep.equal([2]);
    await again.close();
  });

  it("this process is refused while another process holds the root; the holder keeps writing", async () => {
    const root = freshRoot();
    const holder = await Holder.start(root);
    try {
      expect(await holder.send("put one")).to.deep.equal({ put: "one" });
      let err: unknown;
      try {
        await SecretStore.open({ root, masterKey: { key: KEY } });
      } catch (e) {
        err = e;
      }
      expect(isVirError(err, "RESOURCE_BUSY")).to.equal(true);
      expect((err as Error).message).to.equal(
        `resource busy: Failed to acquire lock for secret root '${root}': held by pid ${holder.proc.pid}`,
      );
      expect(await holder.send("put two")).to.deep.equal({ put: "two" });
      expect(await holder.send("close")).to.deep.equal({ closed: true });
    } finally {
      holder.proc.kill();
    }
    const s = await SecretStore.open({ root, masterKey: { key: KEY } });
    const got = [];
    for await (const [k, r] of s.list<{ by: number }>("secrets")) got.push([k, r.data.by, new TextDecoder().decode(r.secret)]);
    expect(got).to.deep.equal([
      ["one", holder.proc.pid, "one"],
      ["two", holder.proc.pid, "two"],
    ]);
    await s.close();
  });

  it("a second open in the same process is refused too", async () => {
    const root = freshRoot();
    const s = await SecretStore.open({ root, masterKey: { key: KEY } });
    let err: unknown;
    try {
      await SecretStore.open({ root, masterKey: { key: KEY } });
    } catch (e) {
      err = e;
    }
    expect((err as Error).message).to.equal(
      `resource busy: Failed to acquire lock for secret root '${root}': held by pid ${process.pid} (this process)`,
    );
    await s.batch([{ type: "put", space: "secrets", key: "x", data: 1 }]);
    await s.close();
  });

  it("takes over the lock of a holder killed with SIGKILL", async () => {
    const root = freshRoot();
    const holder = await Holder.start(root);
    expect(await holder.send("put survivor")).to.deep.equal({ put: "survivor" });
    const deadPid = holder.proc.pid!;
    await holder.kill9();
    // The dead holder's pid file is still there; the kernel dropped its LevelDB lock.
    expect(readFileSync(path.join(root, "lock"), "utf8").trim()).to.equal(String(deadPid));
    const s = await SecretStore.open({ root, masterKey: { key: KEY } });
    expect(readFileSync(path.join(root, "lock"), "utf8")).to.equal(`${process.pid}\n`);
    expect(new TextDecoder().decode((await s.get("secrets", "survivor"))!.secret)).to.equal("survivor");
    await s.close();
  });

  it("takes over a stale lock file naming a dead pid or holding garbage", async () => {
    const root = freshRoot();
    await (await SecretStore.open({ root, masterKey: { key: KEY } })).close();
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    for (const content of [`${dead}\n`, "not a pid", ""]) {
      writeFileSync(path.join(root, "lock"), content);
      const s = await SecretStore.open({ root, masterKey: { key: KEY } });
      expect(readFileSync(path.join(root, "lock"), "utf8")).to.equal(`${process.pid}\n`);
      await s.close();
    }
  });
});
