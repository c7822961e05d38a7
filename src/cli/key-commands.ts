// The keystore commands: key-create, key-store, key-get, key-delete, key-copy,
// key-list against the keystore a <keystore> XML file configures
// (--keystore CONFIG.xml), acting for the caller --user/--project; and
// secret-bind-key / secret-unbind-key, which tie a secret's value to a key.
//
// A binding made here names its keystore by the absolute path of its
// configuration file; later invocations resolve it through CliKeystores, so
// `secret-get-value` on a bound secret needs no extra option (the file must
// stay where it was). A local keystore without <root> lives in the
// connection's own root, which is why these commands connect first.
//
// Key bytes are printed by key-get only, and never in errors.
import * as path from "node:path";
import { VirError } from "../errors.js";
import type { Context, KeyManager, ManagedObject, ManagedObjectKind, NewManagedObject } from "../keystore/key-manager.js";
import { loadKeystoreConfig, openKeystore } from "../keystore/open.js";
import { MAX_KEY_OBJECT_BYTES } from "../keystore/util.js";
import type { KeystoreResolver } from "../secret/binding.js";
import type { SecretStore } from "../store/db.js";
import { encodeBase64 } from "../secret/base64.js";
import { readValueFile } from "./io.js";
import { contextOf, keystoreFile, keystoreOpt, openCommandKeystore, projectOpt, releaseCommandKeystore, userOpt } from "./keystore-options.js";
import { optInt, optString } from "./option-values.js";
import type { OptionDef, ParsedOptions } from "./options.js";
import { errorText, fail, sayExtra } from "./report.js";
import { secretOpt, type Command, type CommandContext } from "./secret-commands.js";
import { formatTable } from "./table.js";

/**
 * The keystores of one invocation, opened on first use from their
 * configuration file and closed together after the command: those bound
 * secrets name and the one wrapping a root's master key (both references are
 * a config file's absolute path), and those --keystore names. One file is
 * opened once, so a local keystore root is never opened twice (its lock).
 */
export class CliKeystores {
  readonly #byFile = new Map<string, Promise<KeyManager>>();

  readonly resolve: KeystoreResolver = async (ref, env) => {
    // only references this CLI made: absolute paths of configuration files
    if (!path.isAbsolute(ref)) return undefined;
    return this.open(ref, env.store);
  };

  /**
   * The keystore `file` configures. `store` is the connection's store, where a
   * local keystore without <root> lives; absent while the store itself is
   * being opened (the keystore of a wrapped master key).
   */
  open(file: string, store: SecretStore | undefined): Promise<KeyManager> {
    const abs = path.resolve(file);
    let p = this.#byFile.get(abs);
    if (p === undefined) {
      p = (async () => {
        const config = await loadKeystoreConfig(abs);
        if (store === undefined && config.type === "local" && config.root === undefined) {
          throw new VirError("CONFIG_UNSUPPORTED", `local keystore '${abs}' has no <root>: it lives inside the secret root and cannot unwrap that root's master key`, "KEYSTORE");
        }
        return openKeystore(config, store !== undefined ? { store } : {});
      })();
      this.#byFile.set(abs, p);
      // a failure is not remembered: the next use tries again
      p.catch(() => {
        if (this.#byFile.get(abs) === p) this.#byFile.delete(abs);
      });
    }
    return p;
  }

  async close(): Promise<void> {
    const all = [...this.#byFile.values()];
    this.#byFile.clear();
    for (const p of all) {
      const km = await p.catch(() => undefined);
      await km?.close().catch(() => undefined);
    }
  }
}

const KINDS: readonly ManagedObjectKind[] = ["symmetric", "passphrase", "opaque"];

const idOpt: OptionDef = { name: "id", kind: "data", help: "key id" };

/** Open the configured keystore, run `fn`, close it; failures print `what` then the reason. */
async function withKeystore(
  ctx: CommandContext,
  opts: ParsedOptions,
  cmd: string,
  what: string,
  fn: (km: KeyManager, caller: Context) => Promise<boolean>,
): Promise<boolean> {
  const file = keystoreFile(ctx, opts, cmd);
  if (file === false) return false;
  const caller = contextOf(ctx, opts);
  if (caller === false) return false;
  const km = await openCommandKeystore(ctx, file);
  if (km === false) return false;
  try {
    return await fn(km, caller);
  } catch (e) {
    fail(ctx, what);
    return fail(ctx, errorText(e));
  } finally {
    await releaseCommandKeystore(ctx, km);
  }
}

/** The id printed for a new key: the bare id with -q (for scripts), else a sentence. */
function reportNew(ctx: CommandContext, id: string, sentence: string): void {
  ctx.io.stdout(ctx.quiet ? `${id}\n` : sentence);
}

const keyCreate: Command = {
  name: "key-create",
  summary: "create a key in a keystore",
  description: "Create a symmetric key (default AES-256) in the keystore and print its id.",
  options: [
    keystoreOpt,
    userOpt,
    projectOpt,
    { name: "algorithm", kind: "string", help: "key algorithm (default AES)" },
    { name: "length", kind: "int", help: "key length in bits (default 256)" },
    { name: "name", kind: "string", help: "key name" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    const algorithm = optString(ctx, opts, "algorithm");
    if (algorithm === false) return false;
    const length = optInt(ctx, opts, "length");
    if (length === false) return false;
    const name = optString(ctx, opts, "name");
    if (name === false) return false;
    return withKeystore(ctx, opts, "key-create", "Failed to create key", async (km, caller) => {
      const id = await km.createKey(caller, {
        ...(algorithm !== undefined ? { algorithm } : {}),
        ...(length !== undefined ? { length } : {}),
        ...(name !== undefined ? { name } : {}),
      });
      reportNew(ctx, id, `Key ${id} created\n`);
      return true;
    });
  },
};

const keyStore: Command = {
  name: "key-store",
  summary: "store a key in a keystore",
  description:
    "Store the bytes of a file in the keystore as a symmetric key, passphrase or opaque object and print its id. The file holds base64 unless --plain.",
  options: [
    keystoreOpt,
    userOpt,
    projectOpt,
    { name: "file", kind: "string", help: "file holding the key" },
    { name: "plain", kind: "bool", help: "read the key from file without converting from base64" },
    { name: "kind", kind: "string", help: "symmetric (default), passphrase or opaque" },
    { name: "algorithm", kind: "string", help: "algorithm of a symmetric key (default AES)" },
    { name: "name", kind: "string", help: "key name" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    const file = optString(ctx, opts, "file");
    if (file === false) return false;
    if (file === undefined) return fail(ctx, "command 'key-store' requires --file option");
    const kindArg = optString(ctx, opts, "kind");
    if (kindArg === false) return false;
    const kind = (kindArg ?? "symmetric") as ManagedObjectKind;
    if (!KINDS.includes(kind)) return fail(ctx, `invalid key kind '${kindArg}': expected symmetric, passphrase or opaque`);
    const algorithm = optString(ctx, opts, "algorithm");
    if (algorithm === false) return false;
    if (algorithm !== undefined && kind !== "symmetric") return fail(ctx, `--algorithm applies to symmetric keys only, not ${kind}`);
    const name = optString(ctx, opts, "name");
    if (name === false) return false;
    const plain = opts.has("plain");
    let value: Uint8Array;
    try {
      // base64 of the largest object, plus room for a trailing newline
      value = await readValueFile(file, plain, plain ? MAX_KEY_OBJECT_BYTES : Math.ceil(MAX_KEY_OBJECT_BYTES / 3) * 4 + 2);
    } catch (e) {
      return fail(ctx, errorText(e));
    }
    try {
      return await withKeystore(ctx, opts, "key-store", "Failed to store key", async (km, caller) => {
        const obj: NewManagedObject = {
          kind,
          value,
          ...(kind === "symmetric" ? { algorithm: algorithm ?? "AES", bitLength: value.length * 8 } : {}),
          ...(name !== undefined ? { name } : {}),
        };
        const id = await km.storeKey(caller, obj);
        reportNew(ctx, id, `Key ${id} stored\n`);
        return true;
      });
    } finally {
      value.fill(0);
    }
  },
};

const keyGet: Command = {
  name: "key-get",
  summary: "output a key",
  description: "Output the bytes of a key to stdout, base64-encoded unless --plain.",
  options: [idOpt, keystoreOpt, userOpt, projectOpt, { name: "plain", kind: "bool", help: "get the key without converting to base64" }],
  needsDriver: true,
  async run(ctx, opts) {
    const id = optString(ctx, opts, "id");
    if (id === false || id === undefined) return false;
    return withKeystore(ctx, opts, "key-get", `Failed to get key ${id}`, async (km, caller) => {
      const obj = await km.getKey(caller, id);
      const value = obj.value;
      if (value === undefined) throw new VirError("INTERNAL_ERROR", `keystore returned key ${id} without its value`, "KEYSTORE");
      try {
        // no newline of its own, as secret-get-value
        ctx.io.stdout(opts.has("plain") ? Buffer.from(value) : encodeBase64(value));
      } finally {
        value.fill(0);
      }
      return true;
    });
  },
};

const keyDelete: Command = {
  name: "key-delete",
  summary: "delete a key",
  description: "Delete a key from the keystore.",
  options: [idOpt, keystoreOpt, userOpt, projectOpt],
  needsDriver: true,
  async run(ctx, opts) {
    const id = optString(ctx, opts, "id");
    if (id === false || id === undefined) return false;
    return withKeystore(ctx, opts, "key-delete", `Failed to delete key ${id}`, async (km, caller) => {
      await km.deleteKey(caller, id);
      sayExtra(ctx, `Key ${id} deleted\n`);
      return true;
    });
  },
};

const keyCopy: Command = {
  name: "key-copy",
  summary: "copy a key",
  description: "Copy a key within the keystore and print the id of the copy.",
  options: [idOpt, keystoreOpt, userOpt, projectOpt],
  needsDriver: true,
  async run(ctx, opts) {
    const id = optString(ctx, opts, "id");
    if (id === false || id === undefined) return false;
    return withKeystore(ctx, opts, "key-copy", `Failed to copy key ${id}`, async (km, caller) => {
      const copy = await km.copyKey(caller, id);
      reportNew(ctx, copy, `Key ${id} copied to ${copy}\n`);
      return true;
    });
  },
};

/** POSIX seconds as `YYYY-MM-DD HH:MM:SS` UTC. */
function utc(sec: number): string {
  return new Date(sec * 1000).toISOString().slice(0, 19).replace("T", " ");
}

function row(o: ManagedObject): string[] {
  return [
    o.id,
    o.kind,
    o.algorithm ?? "-",
    o.bitLength !== undefined ? String(o.bitLength) : "-",
    o.name ?? "-",
    utc(o.created),
  ];
}

const keyList: Command = {
  name: "key-list",
  summary: "list keys",
  description: "List the caller's keys in the keystore (metadata only, never key bytes).",
  options: [
    keystoreOpt,
    userOpt,
    projectOpt,
    { name: "kind", kind: "string", help: "only keys of this kind (symmetric, passphrase, opaque)" },
    { name: "name", kind: "string", help: "only keys with this name" },
  ],
  needsDriver: true,
  async run(ctx, opts) {
    const kind = optString(ctx, opts, "kind");
    if (kind === false) return false;
    if (kind !== undefined && !KINDS.includes(kind as ManagedObjectKind)) {
      return fail(ctx, `invalid key kind '${kind}': expected symmetric, passphrase or opaque`);
    }
    const name = optString(ctx, opts, "name");
    if (name === false) return false;
    return withKeystore(ctx, opts, "key-list", "Failed to list keys", async (km, caller) => {
      const keys = await km.listKeys(caller, {
        metadataOnly: true,
        ...(kind !== undefined ? { kind: kind as ManagedObjectKind } : {}),
        ...(name !== undefined ? { name } : {}),
      });
      for (const k of keys) k.value?.fill(0); // a backend ignoring metadataOnly still prints no bytes
      const rows = keys.map(row).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0));
      ctx.io.stdout(formatTable(ctx.quiet ? null : ["ID", "Kind", "Algorithm", "Bits", "Name", "Created"], rows));
      return true;
    });
  },
};

const secretBindKey: Command = {
  name: "secret-bind-key",
  summary: "take a secret's value from a keystore key",
  description:
    "Bind a secret to a keystore key: its value is then read from the keystore (lowercase hex of the key bytes, or a passphrase's text) and never stored.",
  options: [secretOpt, { name: "key", kind: "data", help: "key id" }, keystoreOpt, userOpt, projectOpt],
  needsDriver: true,
  async run(ctx, opts) {
    const uuid = optString(ctx, opts, "secret");
    if (uuid === false || uuid === undefined) return false;
    const keyId = optString(ctx, opts, "key");
    if (keyId === false || keyId === undefined) return false;
    const file = keystoreFile(ctx, opts, "secret-bind-key");
    if (file === false) return false;
    const caller = contextOf(ctx, opts);
    if (caller === false) return false;
    try {
      await ctx.drv.bindKey(uuid, { keystore: path.resolve(file), keyId, context: caller });
    } catch (e) {
      fail(ctx, `Failed to bind secret ${uuid} to key ${keyId}`);
      return fail(ctx, errorText(e));
    }
    sayExtra(ctx, `Secret ${uuid} bound to key ${keyId}\n`);
    return true;
  },
};

const secretUnbindKey: Command = {
  name: "secret-unbind-key",
  summary: "stop taking a secret's value from a keystore key",
  description: "Remove a secret's keystore binding; the secret then has no value.",
  options: [secretOpt],
  needsDriver: true,
  async run(ctx, opts) {
    const uuid = optString(ctx, opts, "secret");
    if (uuid === false || uuid === undefined) return false;
    try {
      await ctx.drv.unbindKey(uuid);
    } catch (e) {
      fail(ctx, `Failed to unbind secret ${uuid}`);
      return fail(ctx, errorText(e));
    }
    sayExtra(ctx, `Secret ${uuid} unbound from its key\n`);
    return true;
  },
};

/** The keystore group, alphabetical as virsh lists a group. */
export const KEY_COMMANDS: readonly Command[] = [keyCopy, keyCreate, keyDelete, keyGet, keyList, keyStore, secretBindKey, secretUnbindKey];
