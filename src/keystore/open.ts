// openKeystore(config): the one place that turns a keystore configuration
// into a KeyManager, dispatching on its type. Backends are imported here only,
// so callers (volume driver, CLI) never name a backend.
import { readFile } from "node:fs/promises";
import * as path from "node:path";
import { VirError } from "../errors.js";
import type { SecretStore } from "../store/db.js";
import { parseKeystoreXML } from "../xml/keystore.js";
import { openBarbicanKeystore } from "./barbican.js";
import type { KeystoreConfig } from "./config.js";
import type { KeyManager } from "./key-manager.js";
import { openKmipKeystore } from "./kmip/backend.js";
import { LocalKeyManager, openLocalKeystore } from "./local.js";

export interface OpenKeystoreOptions {
  /**
   * The caller's open store. A local keystore without <root>, or with the
   * same root as this store, lives in it (one process holds a root at a
   * time, so opening it a second time would fail on the lock).
   */
  readonly store?: SecretStore;
}

export async function openKeystore(config: KeystoreConfig, opts: OpenKeystoreOptions = {}): Promise<KeyManager> {
  if (config === null || typeof config !== "object") {
    throw new VirError("INVALID_ARG", "no keystore configuration given", "KEYSTORE");
  }
  const type: string = (config as { type?: unknown }).type as string;
  switch (config.type) {
    case "local": {
      if (config.root === undefined) {
        if (!opts.store) {
          throw new VirError("INVALID_ARG", "a local keystore without <root> needs an open secret store", "KEYSTORE");
        }
        return new LocalKeyManager(opts.store);
      }
      if (typeof config.root !== "string" || !path.isAbsolute(config.root)) {
        throw new VirError("INVALID_ARG", "local keystore root must be an absolute path", "KEYSTORE");
      }
      if (opts.store && path.resolve(opts.store.root) === path.resolve(config.root)) {
        return new LocalKeyManager(opts.store);
      }
      return openLocalKeystore({
        root: config.root,
        ...(config.masterKeyFile !== undefined ? { masterKey: { file: config.masterKeyFile } } : {}),
      });
    }
    case "kmip":
      return openKmipKeystore(config);
    case "barbican":
      return openBarbicanKeystore(config);
    default:
      throw new VirError("CONFIG_UNSUPPORTED", `keystore type '${String(type).slice(0, 64)}' is not available`, "KEYSTORE");
  }
}

/** Read and parse a <keystore> XML file (the CLI's --keystore CONFIG.xml). */
export async function loadKeystoreConfig(file: string): Promise<KeystoreConfig> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? "error";
    throw new VirError("READ_FAILED", `cannot read keystore configuration '${file}': ${code}`, "KEYSTORE", { cause: e });
  }
  return parseKeystoreXML(text, { docName: file });
}
