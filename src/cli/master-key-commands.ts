// wrap-master-key: keep the connection's master key only wrapped by a keystore
// key (the envelope of store/envelope.ts). Every value is re-sealed under a NEW
// master key, which is written only wrapped, and the plain master.key is
// removed: a copy of the old key file taken before the wrap opens nothing
// afterwards, and a copied root without the keystore holds nothing usable.
//
// The wrapped file records the absolute path of the --keystore file and the
// --user/--project context, so every later `virsecret -c URI <command>` opens
// the root by itself (main.ts hands the driver CliKeystores.resolve). That
// file must stay where it is, as for secret-bind-key. `rekey` on a wrapped
// root keeps the same keystore key.
import * as path from "node:path";
import type { KeyManager } from "../keystore/key-manager.js";
import { loadKeystoreConfig, openKeystore } from "../keystore/open.js";
import { parseSecretURI } from "../secret/uri.js";
import { contextOf, keystoreFile, projectOpt, releaseCommandKeystore, userOpt } from "./keystore-options.js";
import { optString } from "./option-values.js";
import type { OptionDef } from "./options.js";
import { errorText, fail, sayExtra } from "./report.js";
import type { Command } from "./secret-commands.js";

const keystoreOpt: OptionDef = { name: "keystore", kind: "string", help: "keystore configuration file (<keystore> XML) holding the key" };
const keyIdOpt: OptionDef = { name: "key-id", kind: "string", help: "id of the 256-bit keystore key that wraps the master key" };

const wrapMasterKey: Command = {
  name: "wrap-master-key",
  summary: "keep the master key only wrapped by a keystore key",
  description:
    "Re-seal every value under a new master key kept only wrapped by a 256-bit keystore key (master.key.wrapped), and remove the plain master.key. Later commands open the root through the recorded keystore file.",
  options: [keystoreOpt, keyIdOpt, userOpt, projectOpt],
  needsDriver: true,
  async run(ctx, opts) {
    const file = keystoreFile(ctx, opts, "wrap-master-key");
    if (file === false) return false;
    const keyId = optString(ctx, opts, "key-id");
    if (keyId === false) return false;
    if (keyId === undefined) return fail(ctx, "command 'wrap-master-key' requires --key-id option");
    const caller = contextOf(ctx, opts);
    if (caller === false) return false;
    const ref = path.resolve(file);
    const root = parseSecretURI(ctx.drv.uri).root;
    let km: KeyManager;
    try {
      const config = await loadKeystoreConfig(ref);
      // a key sealed inside the root cannot be what opens the root
      if (config.type === "local" && (config.root === undefined || path.resolve(config.root) === path.resolve(root))) {
        return fail(ctx, `keystore ${ref} keeps its keys inside secret root '${root}'; the key wrapping that root's master key must live elsewhere`);
      }
      km = ctx.keystores !== undefined ? await ctx.keystores.open(ref, undefined) : await openKeystore(config);
    } catch (e) {
      fail(ctx, `Failed to open keystore ${file}`);
      return fail(ctx, errorText(e));
    }
    try {
      await ctx.drv.wrapMasterKey({ keystore: km, context: caller, keyId, reference: ref });
    } catch (e) {
      fail(ctx, `Failed to wrap the master key of secret root '${root}'`);
      return fail(ctx, errorText(e));
    } finally {
      await releaseCommandKeystore(ctx, km);
    }
    sayExtra(ctx, `Master key of secret root '${root}' wrapped by keystore key ${keyId}\n`);
    return true;
  },
};

/** virsecret's master-key commands (the "store" group with import/export and rekey). */
export const MASTER_KEY_COMMANDS: readonly Command[] = [wrapMasterKey];
