// Shared helpers for the secret driver tests: real LevelDB roots in temp dirs.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openSecretDriver, type SecretDriver, type SecretDriverOptions } from "../../../src/secret/driver.js";
import { embedURI } from "../../../src/secret/uri.js";

export { secretXML } from "../../helpers/secret-xml.js";
export { expectVirError } from "../../helpers/vir-error.js";

export async function tempDir(prefix = "virsecret-secret-"): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export class Roots {
  readonly dirs: string[] = [];
  readonly drivers: SecretDriver[] = [];
  async dir(): Promise<string> {
    const d = await tempDir();
    this.dirs.push(d);
    return d;
  }
  async open(root?: string, opts: Omit<SecretDriverOptions, "uri"> = {}): Promise<SecretDriver> {
    const r = root ?? (await this.dir());
    const drv = await openSecretDriver({ uri: embedURI(r), ...opts });
    this.drivers.push(drv);
    return drv;
  }
  async cleanup(): Promise<void> {
    for (const d of this.drivers.splice(0)) await d.close().catch(() => undefined);
    for (const d of this.dirs.splice(0)) await rm(d, { recursive: true, force: true });
  }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export const U1 = "11111111-2222-3333-4444-555555555555";
export const U2 = "22222222-3333-4444-5555-666666666666";
export const U3 = "33333333-4444-5555-6666-777777777777";

