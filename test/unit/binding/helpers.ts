// Helpers for the binding and envelope tests: a scratch base directory holding
// secret roots and one shared local keystore root, and a byte scan of a tree.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Context } from "../../../src/keystore/key-manager.js";
import { openLocalKeystore, type LocalKeyManager } from "../../../src/keystore/local.js";

/** The caller owning the key that wraps a root's master key in the envelope tests. */
export const ops: Context = { user: "ops", project: "infra" };

export class Base {
  dir = "";
  readonly closers: Array<() => Promise<void>> = [];
  async init(): Promise<void> {
    this.dir = await mkdtemp(join(tmpdir(), "virsecret-binding-"));
  }
  /** a local keystore in a root of its own under the base (the "shared keystore" two hosts reach) */
  async keystore(name = "keys"): Promise<LocalKeyManager> {
    const km = await openLocalKeystore({ root: join(this.dir, name) });
    this.closers.push(() => km.close());
    return km;
  }
  root(name: string): string {
    return join(this.dir, name);
  }
  /** The envelope tests' start: keystore "kek-store" with a new 256-bit KEK "root-kek" of ops, and root "host-a" to wrap. */
  async kekAndRoot(): Promise<{ km: LocalKeyManager; kekId: string; root: string }> {
    const km = await this.keystore("kek-store");
    const kekId = await km.createKey(ops, { length: 256, name: "root-kek" });
    return { km, kekId, root: this.root("host-a") };
  }
  track<T extends { close(): Promise<void> }>(x: T): T {
    this.closers.push(() => x.close());
    return x;
  }
  async cleanup(): Promise<void> {
    for (const c of this.closers.splice(0).reverse()) await c().catch(() => undefined);
    if (this.dir !== "") await rm(this.dir, { recursive: true, force: true });
  }
}

/** Every file under `dir` (recursively) whose bytes contain `needle`. */
export async function filesContaining(dir: string, needle: Uint8Array): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      const p = join(d, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (ent.isFile() && Buffer.from(await readFile(p)).indexOf(Buffer.from(needle)) >= 0) hits.push(p);
    }
  };
  await walk(dir);
  return hits;
}

/** How many files a scan looked at (so a scan of an empty tree cannot pass silently). */
export async function countFiles(dir: string): Promise<number> {
  let n = 0;
  const walk = async (d: string): Promise<void> => {
    for (const ent of await readdir(d, { withFileTypes: true })) {
      if (ent.isDirectory()) await walk(join(d, ent.name));
      else if (ent.isFile()) n++;
    }
  };
  await walk(dir);
  return n;
}
