// Shared by the store tests: fresh temp roots, a raw LevelDB handle for
// tampering, and a byte scan of every file under a root.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { Level } from "level";

const made: string[] = [];

/** A fresh, empty parent dir; the store root is created inside it by open(). */
export function freshRoot(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "virsecret-store-"));
  made.push(dir);
  return path.join(dir, "root");
}

export function cleanupRoots(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Open the root's LevelDB directly (the store must be closed). */
export async function rawDb(root: string): Promise<Level<string, string>> {
  const db = new Level<string, string>(path.join(root, "db"), { keyEncoding: "utf8", valueEncoding: "utf8" });
  await db.open();
  return db;
}

export function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

/** Every encoding of `marker` a careless writer might leave: raw, base64 (all alignments), hex. */
export function markerForms(marker: Uint8Array): Buffer[] {
  const m = Buffer.from(marker);
  const forms = [m, Buffer.from(m.toString("hex")), Buffer.from(m.toString("hex").toUpperCase())];
  for (let pad = 0; pad < 3; pad++) {
    // base64 of the marker inside a longer buffer, at each of the 3 offsets mod 3;
    // keep only the characters that depend on marker bytes alone.
    const b64 = Buffer.concat([Buffer.alloc(pad, 0x2a), m, Buffer.alloc(3, 0x2a)]).toString("base64");
    const start = Math.ceil((pad * 4) / 3) + 1;
    const end = Math.floor(((pad + m.length) * 4) / 3) - 1;
    forms.push(Buffer.from(b64.slice(start, end)));
  }
  forms.push(Buffer.from(m.toString("base64").replace(/=+$/, "")));
  return forms;
}

/** Paths (with the form found) of every file under `root` containing any form of `marker`. */
export function scanForMarker(root: string, marker: Uint8Array): string[] {
  const hits: string[] = [];
  const forms = markerForms(marker);
  for (const f of listFiles(root)) {
    const bytes = readFileSync(f);
    forms.forEach((form, i) => {
      if (bytes.includes(form)) hits.push(`${f} (form ${i})`);
    });
  }
  return hits;
}
